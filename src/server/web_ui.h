// The web UI the daemon serves at / and /static/...: plain HTML, CSS and ES modules from
// src/server/web/, embedded in the binary at build time (cmake/EmbedFiles.cmake) so the
// daemon serves exactly the UI it was built with and reads nothing from disk for it.
//
// The files hold no user data, so they are served without the API token; the page gets
// the token from its URL fragment (`thoth ui` prints that URL) and sends it on every API
// call, which is where the data is.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace thoth::server {

struct WebAsset {
  const char* path;  // relative to src/server/web/, e.g. "app.js"
  const unsigned char* data;
  size_t size;
};

// Defined in the generated web_assets.cpp.
extern const WebAsset kWebAssets[];
extern const size_t kWebAssetCount;

// The asset a request path names: "/" is index.html, "/static/NAME" is NAME; null for
// anything else (including any path with "..").
const WebAsset* find_web_asset(std::string_view request_path);

// Content-Type from the file name's extension.
std::string web_content_type(std::string_view path);

// The Content-Security-Policy every UI response carries: nothing but this origin's own
// scripts, styles and API, no inline code, no framing, and blob: audio for playback.
inline constexpr const char* kWebCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

}  // namespace thoth::server
