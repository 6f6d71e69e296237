// Test fixture: a real HTTP server on 127.0.0.1 (ephemeral port) serving generated model
// files, with the misbehaviours the downloader must survive. Header-only; tests only.
#pragma once
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "models/sha256.h"

namespace thoth::models::test {

// How the server treats GET /<file>.
enum class Behaviour {
  kNormal,       // 200, or 206 for a Range request
  kDropOnce,     // first request: sends `cut_at` bytes then drops the connection; then kNormal
  kIgnoreRange,  // always 200 with the whole file, whatever Range says
  kStall,        // sends `cut_at` bytes then goes silent until the server stops
  kSilent,       // accepts the request and never answers until the server stops
};

struct ServedFile {
  std::string bytes;
  Behaviour behaviour = Behaviour::kNormal;
  std::size_t cut_at = 0;
};

inline std::string random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

inline std::string sha256_hex(const std::string& bytes) {
  Sha256 h;
  h.update(bytes.data(), bytes.size());
  return h.finish_hex();
}

class TestModelServer {
 public:
  TestModelServer() {
    server_.Get(R"(/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) { serve(req, res); });
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("test server: cannot bind 127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() is a no-op until the accept loop runs: wait for it, or a quick stop could hang.
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~TestModelServer() { stop(); }
  TestModelServer(const TestModelServer&) = delete;
  TestModelServer& operator=(const TestModelServer&) = delete;

  void add(const std::string& name, ServedFile file) {
    std::lock_guard lock(mu_);
    files_[name] = std::move(file);
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

  // The Range header of every request so far ("" when absent), in arrival order.
  std::vector<std::string> ranges() const {
    std::lock_guard lock(mu_);
    return ranges_;
  }

  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    stalled_.notify_all();
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void serve(const httplib::Request& req, httplib::Response& res) {
    ServedFile file;
    int nth = 0;
    {
      std::lock_guard lock(mu_);
      ranges_.push_back(req.has_header("Range") ? req.get_header_value("Range") : "");
      auto it = files_.find(req.matches[1]);
      if (it == files_.end()) {
        res.status = 404;
        res.set_content("not found", "text/plain");
        return;
      }
      file = it->second;
      nth = ++requests_[req.matches[1]];
    }
    if (file.behaviour == Behaviour::kSilent) {
      std::unique_lock lock(mu_);
      stalled_.wait_for(lock, std::chrono::seconds(60), [this] { return stopping_; });
      res.status = 503;
      return;
    }
    auto data = std::make_shared<std::string>(std::move(file.bytes));
    switch (file.behaviour) {
      case Behaviour::kDropOnce:
        if (nth == 1) {
          std::size_t cut = file.cut_at;
          // The provider gives up after `cut` bytes; httplib then closes the connection, so the
          // client sees fewer bytes than Content-Length promised.
          res.set_content_provider(data->size(), "application/octet-stream",
                                   [data, cut](std::size_t offset, std::size_t, httplib::DataSink& sink) {
                                     if (offset >= cut) return false;
                                     sink.write(data->data() + offset, cut - offset);
                                     return true;
                                   });
          return;
        }
        [[fallthrough]];
      case Behaviour::kNormal:
        // httplib answers a Range request with 206 and the asked slice of the provider's data.
        res.set_content_provider(data->size(), "application/octet-stream",
                                 [data](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
                                   sink.write(data->data() + offset, std::min<std::size_t>(length, 64 * 1024));
                                   return true;
                                 });
        return;
      case Behaviour::kIgnoreRange: {
        // Chunked: httplib only slices length-known content, so this sends everything, 200.
        res.status = 200;
        res.set_chunked_content_provider("application/octet-stream",
                                         [data](std::size_t offset, httplib::DataSink& sink) {
                                           if (offset >= data->size()) {
                                             sink.done();
                                             return true;
                                           }
                                           sink.write(data->data() + offset,
                                                      std::min<std::size_t>(data->size() - offset, 64 * 1024));
                                           return true;
                                         });
        return;
      }
      case Behaviour::kSilent:
      case Behaviour::kStall: {
        std::size_t cut = file.cut_at;
        res.set_content_provider(data->size(), "application/octet-stream",
                                 [this, data, cut](std::size_t offset, std::size_t, httplib::DataSink& sink) {
                                   if (offset < cut) {
                                     sink.write(data->data() + offset, cut - offset);
                                     return true;
                                   }
                                   std::unique_lock lock(mu_);
                                   stalled_.wait_for(lock, std::chrono::seconds(60), [this] { return stopping_; });
                                   return false;
                                 });
        return;
      }
    }
  }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable stalled_;
  bool stopping_ = false;
  std::map<std::string, ServedFile> files_;
  std::map<std::string, int> requests_;
  std::vector<std::string> ranges_;
};

}  // namespace thoth::models::test
