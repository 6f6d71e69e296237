// Where Thoth keeps things, following the XDG base directory spec:
//
//   config   $XDG_CONFIG_HOME/thoth   (~/.config/thoth)       config.json, templates/
//   data     $XDG_DATA_HOME/thoth     (~/.local/share/thoth)  models/, recordings/, history.db
//   cache    $XDG_CACHE_HOME/thoth    (~/.cache/thoth)
//   runtime  $XDG_RUNTIME_DIR/thoth   (/tmp/thoth-UID)        control socket, instance lock
//
// THOTH_HOME=DIR puts everything under one directory (tests, portable installs):
//   DIR/config.json, DIR/templates/, DIR/models/, DIR/recordings/, DIR/history.db,
//   DIR/cache/, DIR/run/
//
// The functions only compute paths (reading the environment each time, so tests can change
// it); ensure_dir() creates a directory when something is about to be written there.
#pragma once
#include <filesystem>
#include <string_view>

#include "core/result.h"

namespace thoth::paths {

std::filesystem::path config_dir();
std::filesystem::path config_file();      // config_dir()/config.json
std::filesystem::path templates_dir();    // config_dir()/templates (user prompt templates)

std::filesystem::path data_dir();
std::filesystem::path models_dir();       // data_dir()/models
std::filesystem::path recordings_dir();   // data_dir()/recordings
std::filesystem::path history_db();       // data_dir()/history.db

std::filesystem::path cache_dir();
std::filesystem::path runtime_dir();

// Creates `dir` and its missing parents with mode 0700 and checks that files can be
// created in it. `what` names the directory's role in the error ("data dir", "models dir"),
// e.g. "cannot create data dir /x/thoth: Permission denied (set THOTH_HOME to a writable
// directory)".
Result<std::filesystem::path> ensure_dir(const std::filesystem::path& dir, std::string_view what);

// ensure_dir() for the runtime dir, which must also be ours and private, since the control
// socket lives there: a directory another user created (possible in /tmp) is refused.
Result<std::filesystem::path> ensure_runtime_dir();

// Replaces `file` atomically (temporary file in the same directory, fsync, rename) with
// mode 0600: a crash leaves either the old or the new content, never a torn file. The parent
// directory must exist.
Result<void> write_file_atomic(const std::filesystem::path& file, std::string_view content);

// Reads a whole file. Errors name the file.
Result<std::string> read_file(const std::filesystem::path& file);

}  // namespace thoth::paths
