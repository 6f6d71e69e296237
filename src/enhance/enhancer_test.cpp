// The enhancement clients against a real HTTP server on 127.0.0.1 (cpp-httplib) that speaks
// Ollama's /api/chat and OpenAI's /v1/chat/completions, streaming and not. The server's
// behaviour is picked by the model name the client sends.
#include "enhance/enhancer.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <future>
#include <mutex>

#include <nlohmann/json.hpp>

namespace thoth::enhance {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

std::string between_markers(const std::string& user) {
  const std::string open = "<<<TRANSCRIPT\n", close = "\nTRANSCRIPT>>>";
  const auto a = user.find(open);
  const auto b = user.find(close);
  if (a == std::string::npos || b == std::string::npos) return "<no markers>";
  return user.substr(a + open.size(), b - a - open.size());
}

class ChatServer {
 public:
  explicit ChatServer(int port = 0) {
    svr_.Post("/api/chat", [this](const httplib::Request& req, httplib::Response& res) {
      handle(Protocol::ollama, req, res);
    });
    svr_.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      handle(Protocol::openai, req, res);
    });
    if (port == 0) {
      port_ = svr_.bind_to_any_port("127.0.0.1");
    } else {
      port_ = port;
      if (!svr_.bind_to_port("127.0.0.1", port)) port_ = -1;
    }
    if (port_ > 0) thread_ = std::thread([this] { svr_.listen_after_bind(); });
    while (port_ > 0 && !svr_.is_running()) std::this_thread::sleep_for(1ms);
  }
  ~ChatServer() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    svr_.stop();
    if (thread_.joinable()) thread_.join();
  }

  int port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  json last_request() {
    std::lock_guard lock(mutex_);
    return last_body_;
  }
  std::string last_authorization() {
    std::lock_guard lock(mutex_);
    return last_auth_;
  }
  int requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  // Waits up to `d`; returns false when the server is stopping.
  bool pause(std::chrono::milliseconds d) {
    std::unique_lock lock(mutex_);
    return !wake_.wait_for(lock, d, [this] { return stopping_; });
  }

  static std::vector<std::string> words_of(const std::string& text) {
    std::vector<std::string> pieces;
    size_t start = 0;
    while (start < text.size()) {
      size_t sp = text.find(' ', start);
      size_t end = sp == std::string::npos ? text.size() : sp + 1;
      pieces.push_back(text.substr(start, end - start));
      start = end;
    }
    return pieces;
  }

  static std::string ndjson_chunk(const std::string& content, bool done) {
    json j = {{"model", "m"}, {"message", {{"role", "assistant"}, {"content", content}}}, {"done", done}};
    return j.dump() + "\n";
  }
  static std::string sse_chunk(const std::string& content, bool last) {
    json choice = {{"index", 0}, {"delta", {{"content", content}}}, {"finish_reason", nullptr}};
    if (last) choice["finish_reason"] = "stop";
    json j = {{"id", "c1"}, {"object", "chat.completion.chunk"}, {"choices", json::array({choice})}};
    return "data: " + j.dump() + "\n\n";
  }

  void handle(Protocol protocol, const httplib::Request& req, httplib::Response& res) {
    json body = json::parse(req.body, nullptr, false);
    {
      std::lock_guard lock(mutex_);
      last_body_ = body;
      last_auth_ = req.get_header_value("Authorization");
      ++requests_;
    }
    if (body.is_discarded()) {
      res.status = 400;
      res.set_content(R"({"error":"bad json"})", "application/json");
      return;
    }
    const std::string model = body.value("model", "");
    const bool stream = body.value("stream", false);
    const std::string transcript = between_markers(body["messages"][1]["content"].get<std::string>());
    std::string reply = "Edited: " + transcript;

    if (model == "error500") {
      res.status = 500;
      res.set_content(protocol == Protocol::ollama ? R"({"error":"model exploded"})"
                                                   : R"({"error":{"message":"model exploded","type":"server_error"}})",
                      "application/json");
      return;
    }
    if (model == "malformed") {
      res.set_content(stream ? "this is not json\n" : "{\"message\": {\"content\": ",
                      protocol == Protocol::ollama ? "application/x-ndjson" : "text/event-stream");
      if (!stream) res.set_content("{\"message\": {\"content\": ", "application/json");
      if (stream && protocol == Protocol::openai) res.set_content("data: {broken\n\n", "text/event-stream");
      return;
    }
    if (model == "slow") {
      if (!pause(3000ms)) return;
    }
    if (model == "quoted") reply = "Here is the corrected text:\n\n\"" + transcript + "\"";
    if (model == "ignores-stream") {
      // A server that answers with one JSON document although a stream was asked for.
      const json one = protocol == Protocol::ollama
                           ? json{{"message", {{"role", "assistant"}, {"content", reply}}}, {"done", true}}
                           : json{{"choices", json::array({{{"message", {{"role", "assistant"}, {"content", reply}}}}})}};
      res.set_content(one.dump(), "application/json");
      return;
    }

    if (!stream) {
      const json one = protocol == Protocol::ollama
                           ? json{{"model", model}, {"message", {{"role", "assistant"}, {"content", reply}}}, {"done", true}}
                           : json{{"id", "c1"}, {"object", "chat.completion"},
                                  {"choices", json::array({{{"index", 0}, {"message", {{"role", "assistant"}, {"content", reply}}}, {"finish_reason", "stop"}}})}};
      res.set_content(one.dump(), "application/json");
      return;
    }

    const auto pieces = words_of(reply);
    const bool hang = model == "hang-stream";
    const bool truncate = model == "truncated-stream";
    res.set_chunked_content_provider(
        protocol == Protocol::ollama ? "application/x-ndjson" : "text/event-stream",
        [this, protocol, pieces, hang, truncate](size_t, httplib::DataSink& sink) {
          for (size_t i = 0; i < pieces.size(); ++i) {
            const bool last = i + 1 == pieces.size();
            const std::string chunk = protocol == Protocol::ollama
                                          ? ndjson_chunk(pieces[i], false)
                                          : sse_chunk(pieces[i], false);
            if (!sink.write(chunk.data(), chunk.size())) return false;
            if (hang || (truncate && i == 0)) break;
            if (last) break;
            if (!pause(5ms)) return false;
          }
          if (truncate) {
            sink.done();
            return true;
          }
          if (hang) {
            // Keep the connection open and idle-ish (blank keep-alive lines) until the
            // client goes away or the test ends.
            for (int i = 0; i < 500; ++i) {
              if (!pause(20ms)) return false;
              if (!sink.write("\n", 1)) return false;
            }
          }
          const std::string end = protocol == Protocol::ollama
                                      ? ndjson_chunk("", true)
                                      : sse_chunk("", true) + "data: [DONE]\n\n";
          sink.write(end.data(), end.size());
          sink.done();
          return true;
        });
  }

  httplib::Server svr_;
  int port_ = -1;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  json last_body_;
  std::string last_auth_;
  int requests_ = 0;
};

const PromptTemplate& grammar() {
  static const TemplateLibrary library = TemplateLibrary::builtins_only();
  return *library.find("fix-grammar");
}

EndpointConfig endpoint(const ChatServer& server, Protocol protocol, std::string model, bool stream) {
  EndpointConfig e;
  e.protocol = protocol;
  e.base_url = server.base_url();
  e.model = std::move(model);
  e.stream = stream;
  e.total_timeout = 10s;
  return e;
}

struct Case {
  Protocol protocol;
  bool stream;
};

class EnhancerProtocols : public ::testing::TestWithParam<Case> {
 protected:
  ChatServer server_;
  std::atomic<bool> no_cancel_{false};
  EndpointConfig config(std::string model) {
    return endpoint(server_, GetParam().protocol, std::move(model), GetParam().stream);
  }
};

TEST_P(EnhancerProtocols, NormalReplyWithUnicode) {
  std::vector<std::string> deltas;
  PromptInputs in{"gr\u00FC\u00DFe aus m\u00FCnchen \u4E2D\u6587 \U0001F600", "", {}};
  auto r = enhance_text(config("echo"), grammar(), in, no_cancel_,
                        [&](std::string_view d) { deltas.emplace_back(d); });
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->text, "Edited: " + in.text);
  EXPECT_EQ(r->model, "echo");
  if (GetParam().stream) {
    EXPECT_GT(deltas.size(), 3u);  // arrived in pieces
    std::string joined;
    for (const auto& d : deltas) joined += d;
    EXPECT_EQ(joined, "Edited: " + in.text);
  } else {
    EXPECT_TRUE(deltas.empty());
  }
}

TEST_P(EnhancerProtocols, RequestCarriesModelPromptAndLowTemperature) {
  PromptInputs in{"ship it to get hub", "Release notes draft", {"GitHub"}};
  auto r = enhance_text(config("echo"), grammar(), in, no_cancel_);
  ASSERT_TRUE(r) << r.error();
  const json req = server_.last_request();
  EXPECT_EQ(req["model"], "echo");
  EXPECT_EQ(req["stream"], GetParam().stream);
  const double temperature = GetParam().protocol == Protocol::ollama
                                 ? req["options"]["temperature"].get<double>()
                                 : req["temperature"].get<double>();
  EXPECT_LE(temperature, 0.3);
  ASSERT_EQ(req["messages"].size(), 2u);
  EXPECT_EQ(req["messages"][0]["role"], "system");
  EXPECT_EQ(req["messages"][1]["role"], "user");
  const std::string user = req["messages"][1]["content"];
  EXPECT_EQ(between_markers(user), "ship it to get hub");
  EXPECT_NE(user.find("Release notes draft"), std::string::npos);
  EXPECT_NE(user.find("GitHub"), std::string::npos);
}

TEST_P(EnhancerProtocols, QuotedReplyWithPreambleIsCleaned) {
  auto r = enhance_text(config("quoted"), grammar(), {"hello there", "", {}}, no_cancel_);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->text, "hello there");
}

TEST_P(EnhancerProtocols, Http500ReportsServerMessage) {
  auto r = enhance_text(config("error500"), grammar(), {"x", "", {}}, no_cancel_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("HTTP 500"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("model exploded"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find(server_.base_url()), std::string::npos) << r.error();
  EXPECT_EQ(server_.requests(), 1);  // an answered request is never retried
}

TEST_P(EnhancerProtocols, MalformedJsonIsAnError) {
  auto r = enhance_text(config("malformed"), grammar(), {"x", "", {}}, no_cancel_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("malformed"), std::string::npos) << r.error();
}

TEST_P(EnhancerProtocols, SlowReplyHitsTotalTimeout) {
  auto cfg = config("slow");
  cfg.total_timeout = 400ms;
  const auto start = std::chrono::steady_clock::now();
  auto r = enhance_text(cfg, grammar(), {"x", "", {}}, no_cancel_);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("timed out"), std::string::npos) << r.error();
  EXPECT_LT(elapsed, 2500ms);  // the server would have taken 3 s
}

TEST_P(EnhancerProtocols, ServerIgnoringStreamFlagStillWorks) {
  auto r = enhance_text(config("ignores-stream"), grammar(), {"abc", "", {}}, no_cancel_);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->text, "Edited: abc");
}

INSTANTIATE_TEST_SUITE_P(All, EnhancerProtocols,
                         ::testing::Values(Case{Protocol::ollama, false}, Case{Protocol::ollama, true},
                                           Case{Protocol::openai, false}, Case{Protocol::openai, true}),
                         [](const auto& info) {
                           return std::string(to_string(info.param.protocol)) +
                                  (info.param.stream ? "_stream" : "_whole");
                         });

class EnhancerStreams : public ::testing::TestWithParam<Protocol> {
 protected:
  ChatServer server_;
};

TEST_P(EnhancerStreams, CancelMidStreamIsPrompt) {
  std::promise<void> first_delta;
  std::atomic<bool> signalled{false};
  EnhancementJob job(endpoint(server_, GetParam(), "hang-stream", true), grammar(),
                     {"one two three", "", {}}, [&](std::string_view) {
                       if (!signalled.exchange(true)) first_delta.set_value();
                     });
  ASSERT_EQ(first_delta.get_future().wait_for(5s), std::future_status::ready);
  EXPECT_FALSE(job.finished());
  const auto start = std::chrono::steady_clock::now();
  job.cancel();
  auto r = job.wait();
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("cancelled"), std::string::npos) << r.error();
  EXPECT_LT(elapsed, 1000ms);  // the server would have kept the stream open for 10 s
}

TEST_P(EnhancerStreams, TruncatedStreamIsAnError) {
  std::atomic<bool> no_cancel{false};
  auto r = enhance_text(endpoint(server_, GetParam(), "truncated-stream", true), grammar(),
                        {"one two three", "", {}}, no_cancel);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("ended before"), std::string::npos) << r.error();
}

TEST_P(EnhancerStreams, JobRunsInTheBackground) {
  EnhancementJob job(endpoint(server_, GetParam(), "echo", true), grammar(), {"abc", "", {}});
  auto r = job.wait();
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->text, "Edited: abc");
  EXPECT_TRUE(job.finished());
}

TEST_P(EnhancerStreams, DestroyingARunningJobCancelsAndJoins) {
  const auto start = std::chrono::steady_clock::now();
  {
    EnhancementJob job(endpoint(server_, GetParam(), "hang-stream", true), grammar(), {"abc", "", {}});
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
}

INSTANTIATE_TEST_SUITE_P(All, EnhancerStreams, ::testing::Values(Protocol::ollama, Protocol::openai),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// A port on loopback that refuses connections: bound, never listening.
class RefusingPort {
 public:
  RefusingPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~RefusingPort() { ::close(fd_); }
  int port() const { return port_; }
  void release() {
    ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(EnhancerErrors, ConnectionRefusedAfterQuickRetries) {
  RefusingPort refusing;
  EndpointConfig cfg;
  cfg.base_url = "http://127.0.0.1:" + std::to_string(refusing.port());
  cfg.retries = 2;
  std::atomic<bool> no_cancel{false};
  const auto start = std::chrono::steady_clock::now();
  auto r = enhance_text(cfg, grammar(), {"x", "", {}}, no_cancel);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("onnect"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("is Ollama running"), std::string::npos) << r.error();
  EXPECT_GE(elapsed, 400ms);  // 150 + 300 ms between the three attempts
  EXPECT_LT(elapsed, 3s);
}

TEST(EnhancerErrors, RetryReachesAServerThatStartsLate) {
  RefusingPort refusing;
  const int port = refusing.port();
  EndpointConfig cfg;
  cfg.protocol = Protocol::openai;
  cfg.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1/";
  cfg.model = "echo";
  cfg.retries = 3;
  std::unique_ptr<ChatServer> server;
  std::thread starter([&] {
    std::this_thread::sleep_for(200ms);
    refusing.release();
    server = std::make_unique<ChatServer>(port);
  });
  std::atomic<bool> no_cancel{false};
  auto r = enhance_text(cfg, grammar(), {"late", "", {}}, no_cancel);
  starter.join();
  ASSERT_NE(server, nullptr);
  ASSERT_GT(server->port(), 0) << "could not start the late server on port " << port;
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->text, "Edited: late");
}

TEST(EnhancerErrors, CancelDuringRetryPauseIsPrompt) {
  RefusingPort refusing;
  EndpointConfig cfg;
  cfg.base_url = "http://127.0.0.1:" + std::to_string(refusing.port());
  cfg.retries = 50;
  EnhancementJob job(cfg, grammar(), {"x", "", {}});
  std::this_thread::sleep_for(100ms);
  const auto start = std::chrono::steady_clock::now();
  job.cancel();
  auto r = job.wait();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("cancelled"), std::string::npos) << r.error();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);
}

// A loopback port whose accept queue is full: the kernel drops further SYNs, so a new
// connection neither succeeds nor fails until the client gives up.
class BlackholePort {
 public:
  BlackholePort() {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(listener_, 0), 0);
    socklen_t len = sizeof addr;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    for (int i = 0; i < 4; ++i) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
      fillers_.push_back(fd);
    }
    std::this_thread::sleep_for(50ms);
  }
  ~BlackholePort() {
    for (int fd : fillers_) ::close(fd);
    ::close(listener_);
  }
  int port() const { return port_; }

 private:
  int listener_ = -1;
  int port_ = 0;
  std::vector<int> fillers_;
};

TEST(EnhancerErrors, ConnectTimeoutIsRetriedWithinTheTotalBudget) {
  BlackholePort blackhole;
  EndpointConfig cfg;
  cfg.base_url = "http://127.0.0.1:" + std::to_string(blackhole.port());
  cfg.connect_timeout = 250ms;
  cfg.total_timeout = 10s;
  cfg.retries = 1;
  std::atomic<bool> no_cancel{false};
  const auto start = std::chrono::steady_clock::now();
  auto r = enhance_text(cfg, grammar(), {"x", "", {}}, no_cancel);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("connecting timed out"), std::string::npos) << r.error();
  EXPECT_GE(elapsed, 500ms);  // two attempts of 250 ms each
  EXPECT_LT(elapsed, 5s);     // far from the 10 s total
}

TEST(EnhancerErrors, EmptyTextIsRefusedWithoutARequest) {
  ChatServer server;
  std::atomic<bool> no_cancel{false};
  auto r = enhance_text(endpoint(server, Protocol::ollama, "echo", false), grammar(), {"  \n", "", {}}, no_cancel);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("nothing to enhance"), std::string::npos);
  EXPECT_EQ(server.requests(), 0);
}

TEST(EnhancerAuth, ApiKeyFromConfigThenEnvironment) {
  ChatServer server;
  std::atomic<bool> no_cancel{false};
  auto cfg = endpoint(server, Protocol::openai, "echo", false);
  cfg.api_key = "sk-from-config";
  ASSERT_TRUE(enhance_text(cfg, grammar(), {"x", "", {}}, no_cancel));
  EXPECT_EQ(server.last_authorization(), "Bearer sk-from-config");

  cfg.api_key.clear();
  ::setenv("OPENAI_API_KEY", "sk-openai-env", 1);
  ::unsetenv("THOTH_ENHANCE_API_KEY");
  ::unsetenv("THOTH_API_KEY");
  ASSERT_TRUE(enhance_text(cfg, grammar(), {"x", "", {}}, no_cancel));
  EXPECT_EQ(server.last_authorization(), "Bearer sk-openai-env");

  ::setenv("THOTH_API_KEY", "sk-thoth-any", 1);
  ASSERT_TRUE(enhance_text(cfg, grammar(), {"x", "", {}}, no_cancel));
  EXPECT_EQ(server.last_authorization(), "Bearer sk-thoth-any");

  ::setenv("THOTH_ENHANCE_API_KEY", "sk-thoth-env", 1);
  ASSERT_TRUE(enhance_text(cfg, grammar(), {"x", "", {}}, no_cancel));
  EXPECT_EQ(server.last_authorization(), "Bearer sk-thoth-env");
  ::unsetenv("THOTH_ENHANCE_API_KEY");
  ::unsetenv("THOTH_API_KEY");
  ::unsetenv("OPENAI_API_KEY");

  ASSERT_TRUE(enhance_text(cfg, grammar(), {"x", "", {}}, no_cancel));
  EXPECT_EQ(server.last_authorization(), "");
}

TEST(EnhancerConfig, ProtocolNames) {
  EXPECT_EQ(*parse_protocol("ollama"), Protocol::ollama);
  EXPECT_EQ(*parse_protocol("openai"), Protocol::openai);
  auto bad = parse_protocol("anthropic");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("ollama or openai"), std::string::npos);
}

}  // namespace
}  // namespace thoth::enhance
