// The real stage adapters against real parts: the enhancement's selection context read from
// an X11 server (Xvfb) and sent to an Ollama-speaking server on loopback.
#include "pipeline/stage_adapters.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/process.h"
#include "support/shared_data.h"
#include "support/x_server.h"

namespace thoth::pipeline {
namespace {

using namespace std::chrono_literals;

// Answers /api/chat with a fixed reply and keeps the last request's user message.
class OllamaStandIn {
 public:
  OllamaStandIn() {
    svr_.Post("/api/chat", [this](const httplib::Request& req, httplib::Response& res) {
      const auto body = nlohmann::json::parse(req.body);
      {
        std::lock_guard lock(mutex_);
        for (const auto& m : body.at("messages"))
          if (m.at("role") == "user") user_ = m.at("content").get<std::string>();
      }
      nlohmann::json reply = {{"model", body.at("model")},
                              {"message", {{"role", "assistant"}, {"content", "Enhanced."}}},
                              {"done", true}};
      res.set_content(reply.dump(), "application/json");
    });
    port_ = svr_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
    while (!svr_.is_running()) std::this_thread::sleep_for(1ms);
  }
  ~OllamaStandIn() {
    svr_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string user_message() {
    std::lock_guard lock(mutex_);
    return user_;
  }

 private:
  httplib::Server svr_;
  int port_ = -1;
  std::thread thread_;
  std::mutex mutex_;
  std::string user_;
};

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

  OllamaStandIn server;
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
