// The real stage adapters against real parts: the enhancement's selection context read from
// an X11 server (Xvfb) and sent to an Ollama-speaking server on loopback.
#include "pipeline/stage_adapters.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/ollama_stand_in.h"
#include "support/process.h"
#include "support/shared_data.h"
#include "support/x_server.h"

namespace thoth::pipeline {
namespace {

using namespace std::chrono_literals;

using thoth::test::OllamaStandIn;

TEST(LlmEnhancerContext, SendsTheClipboardOrThePrimarySelectionAsContext) {
  std::string error;
  auto x = thoth::test::XvfbServer::start(&error);
  ASSERT_TRUE(x) << error;
  const char* old = std::getenv("DISPLAY");
  const std::string saved = old ? old : "";
  setenv("DISPLAY", x->display().c_str(), 1);
  const char* wl = std::getenv("WAYLAND_DISPLAY");
  const std::string saved_wl = wl ? wl : "";
  unsetenv("WAYLAND_DISPLAY");

  // Another program owns both selections (xclip keeps serving them in the background).
  thoth::test::ScratchDir dir;
  for (const auto& [selection, content] : {std::pair{"clipboard", "the clipboard ✓"}, {"primary", "the selected text"}}) {
    const auto file = dir / (std::string(selection) + ".txt");
    std::FILE* f = std::fopen(file.c_str(), "w");
    std::fputs(content, f);
    std::fclose(f);
    thoth::test::RunOptions o;
    o.env["DISPLAY"] = x->display();
    ASSERT_EQ(thoth::test::run_program({"/usr/bin/xclip", "-selection", selection, "-i", file.string()}, o).exit_code, 0);
  }

  OllamaStandIn server("Enhanced.");
  enhance::EndpointConfig ep;
  ep.base_url = server.url();
  ep.stream = false;
  ep.retries = 0;
  std::atomic<bool> cancel{false};
  for (const auto& [source, expected] : {std::pair{"clipboard", "the clipboard ✓"}, {"primary", "the selected text"}}) {
    LlmEnhancer enhancer(ep, enhance::builtin_templates().front(), {}, source);
    auto r = enhancer.enhance("hello world", cancel);
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(*r, "Enhanced.");
    EXPECT_NE(server.user_message().find(expected), std::string::npos) << source << ": " << server.user_message();
  }
  LlmEnhancer without(ep, enhance::builtin_templates().front(), {}, "none");
  ASSERT_TRUE(without.enhance("hello world", cancel));
  EXPECT_EQ(server.user_message().find("the clipboard"), std::string::npos);

  if (saved.empty()) unsetenv("DISPLAY");
  else setenv("DISPLAY", saved.c_str(), 1);
  if (!saved_wl.empty()) setenv("WAYLAND_DISPLAY", saved_wl.c_str(), 1);
}

}  // namespace
}  // namespace thoth::pipeline
