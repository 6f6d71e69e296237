#include "output/wayland.h"

#include <chrono>
#include <thread>

#include "core/child_process.h"

namespace thoth::output {

namespace {

using namespace std::chrono_literals;

// A tool's stderr is the most useful thing to say, on one line.
std::string why(const std::string& tool, const ChildResult& r) {
  std::string msg = r.err;
  if (const auto nl = msg.rfind('\n'); nl != std::string::npos) msg = msg.substr(nl + 1);
  if (msg.empty()) msg = "exit code " + std::to_string(r.exit_code);
  return tool + ": " + msg;
}

Result<void> run_tool(const std::string& tool, std::vector<std::string> argv, std::optional<std::string> input,
                      const std::atomic<bool>* cancel, std::chrono::milliseconds timeout) {
  ChildOptions o;
  o.input = std::move(input);
  o.cancel = cancel;
  o.timeout = timeout;
  auto r = run_child(argv, o);
  if (!r) return make_error(r.error());  // names the program already
  if (r->exit_code != 0) return make_error(why(tool, *r));
  return {};
}

// Typing takes time in proportion to the text with the uinput tools (they pace keys).
std::chrono::milliseconds typing_timeout(const std::string& text) {
  return 10000ms + std::chrono::milliseconds(text.size() * 20);
}

}  // namespace

const char* tool_name(WaylandTool tool) {
  switch (tool) {
    case WaylandTool::Wtype: return "wtype";
    case WaylandTool::Dotool: return "dotool";
    case WaylandTool::Ydotool: return "ydotool";
  }
  return "?";
}

Result<std::vector<WaylandTool>> wayland_tools(const std::string& value) {
  const std::vector<WaylandTool> all = {WaylandTool::Wtype, WaylandTool::Dotool, WaylandTool::Ydotool};
  if (value == "auto" || value.empty()) return all;
  for (WaylandTool t : all)
    if (value == tool_name(t)) return std::vector<WaylandTool>{t};
  return make_error("output.wayland_tool: unknown tool '" + value + "' (auto, wtype, dotool or ydotool)");
}

Result<void> wayland_type(WaylandTool tool, const std::string& text, const std::atomic<bool>* cancel) {
  if (text.empty()) return {};
  switch (tool) {
    case WaylandTool::Wtype:
      // Keys sent right after wtype announces its keymap can reach the window before it has
      // switched to that keymap, dropping the first characters: give it a moment first.
      return run_tool("wtype", {"wtype", "-s", "200", "-"}, text, cancel, typing_timeout(text));
    case WaylandTool::Dotool: {
      // dotool reads commands; "type" takes the rest of the line, so newlines go as keys.
      std::string script;
      size_t start = 0;
      while (start <= text.size()) {
        const size_t nl = std::min(text.find('\n', start), text.size());
        if (nl > start) script += "type " + text.substr(start, nl - start) + "\n";
        if (nl < text.size()) script += "key enter\n";
        start = nl + 1;
      }
      return run_tool("dotool", {"dotool"}, script, cancel, typing_timeout(text));
    }
    case WaylandTool::Ydotool:
      return run_tool("ydotool", {"ydotool", "type", "--delay", "0", "--key-delay", "2", "--file", "/dev/stdin"}, text,
                      cancel, typing_timeout(text));
  }
  return make_error("output: unknown Wayland tool");
}

Result<void> wayland_press_paste(WaylandTool tool, bool shift, const std::atomic<bool>* cancel) {
  switch (tool) {
    case WaylandTool::Wtype: {
      std::vector<std::string> argv = {"wtype", "-s", "200", "-M", "ctrl"};  // -s: see wayland_type
      if (shift) argv.insert(argv.end(), {"-M", "shift"});
      argv.insert(argv.end(), {"-k", "v"});
      if (shift) argv.insert(argv.end(), {"-m", "shift"});
      argv.insert(argv.end(), {"-m", "ctrl"});
      return run_tool("wtype", argv, std::nullopt, cancel, 10000ms);
    }
    case WaylandTool::Dotool:
      return run_tool("dotool", {"dotool"}, std::string(shift ? "key ctrl+shift+v\n" : "key ctrl+v\n"), cancel, 10000ms);
    case WaylandTool::Ydotool:
      return run_tool("ydotool", {"ydotool", "key", "--delay", "0", shift ? "ctrl+shift+v" : "ctrl+v"}, std::nullopt,
                      cancel, 10000ms);
  }
  return make_error("output: unknown Wayland tool");
}

std::optional<std::string> wayland_clipboard_read(bool primary) {
  ChildOptions o;
  o.capture_stdout = true;
  o.timeout = 3000ms;
  std::vector<std::string> argv = {"wl-paste", "--no-newline", "--type", "text"};
  if (primary) argv.push_back("--primary");
  auto r = run_child(argv, o);
  if (!r || r->exit_code != 0) return std::nullopt;
  return r->out;
}

Result<void> wayland_clipboard_set(const std::string& text) {
  // wl-copy forks a server that owns the selection and returns; run_child does not wait for it.
  return run_tool("wl-copy", {"wl-copy"}, text, nullptr, 5000ms);
}

Result<void> wayland_clipboard_clear() { return run_tool("wl-copy", {"wl-copy", "--clear"}, std::nullopt, nullptr, 5000ms); }

Result<void> wayland_paste(WaylandTool tool, const std::string& text, bool shift, const std::atomic<bool>* cancel) {
  if (auto r = wayland_clipboard_set(text); !r) return r;
  // The forked server takes the selection asynchronously: paste only once it serves ours,
  // or the window would paste what was there before.
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  while (wayland_clipboard_read() != text) {
    if (std::chrono::steady_clock::now() > deadline)
      return make_error("wl-copy: the Wayland clipboard did not take the text");
    std::this_thread::sleep_for(20ms);
  }
  if (cancel && cancel->load(std::memory_order_acquire)) return make_error("paste cancelled");
  return wayland_press_paste(tool, shift, cancel);
}

}  // namespace thoth::output
