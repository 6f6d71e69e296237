// A stand-in for an Ollama server on 127.0.0.1 (a free port): POST /api/chat answers every
// request with `reply` and keeps the last request's user message; it can take its time over
// the first request, as a slow LLM does. Header-only: the tests that use it include httplib.
#pragma once
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

namespace thoth::test {

class OllamaStandIn {
 public:
  explicit OllamaStandIn(std::string reply, std::chrono::milliseconds first_delay = {})
      : reply_(std::move(reply)), first_delay_(first_delay) {
    svr_.Post("/api/chat", [this](const httplib::Request& req, httplib::Response& res) {
      if (requests_.fetch_add(1) == 0) {
        const auto until = std::chrono::steady_clock::now() + first_delay_;
        while (!quit_.load() && std::chrono::steady_clock::now() < until)
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      const auto body = nlohmann::json::parse(req.body);
      {
        std::lock_guard lock(mutex_);
        for (const auto& m : body.at("messages"))
          if (m.at("role") == "user") user_ = m.at("content").get<std::string>();
      }
      const nlohmann::json answer = {{"model", body.at("model")},
                                     {"message", {{"role", "assistant"}, {"content", reply_}}},
                                     {"done", true}};
      res.set_content(answer.dump(), "application/json");
    });
    port_ = svr_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
    while (!svr_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~OllamaStandIn() {
    quit_.store(true);  // a first request still being delayed answers now
    svr_.stop();
    thread_.join();
  }
  OllamaStandIn(const OllamaStandIn&) = delete;
  OllamaStandIn& operator=(const OllamaStandIn&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string user_message() {
    std::lock_guard lock(mutex_);
    return user_;
  }

 private:
  const std::string reply_;
  const std::chrono::milliseconds first_delay_;
  httplib::Server svr_;
  int port_ = -1;
  std::thread thread_;
  std::atomic<int> requests_{0};
  std::atomic<bool> quit_{false};
  std::mutex mutex_;
  std::string user_;
};

}  // namespace thoth::test
