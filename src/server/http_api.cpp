#include "server/http_api.h"

#include <sys/random.h>
#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <sstream>

#include <httplib.h>

#include "audio/capture.h"
#include "core/paths.h"
#include "models/catalog.h"
#include "models/lookup.h"
#include "server/web_ui.h"

namespace thoth::server {
namespace {

using nlohmann::json;

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(to_wire(body), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, status, json{{"error", message}});
}

void send_result(httplib::Response& res, const CommandResult& r) { send_json(res, r.code, r.body); }

// The history id a route's pattern captured; nullopt when it does not fit an int64.
std::optional<int64_t> history_id(const httplib::Request& req) {
  try {
    return std::stoll(req.matches[1].str());
  } catch (...) {
    return std::nullopt;
  }
}

// Compares without an early exit, so the token cannot be guessed a byte at a time.
bool same_secret(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// One SSE subscriber's events, filled by its bus subscription and drained by the
// connection's content provider.
struct EventQueue {
  std::mutex mutex;
  std::condition_variable cv;
  std::deque<std::string> lines;
  static constexpr size_t kMax = 512;
  void push(std::string s) {
    {
      std::lock_guard lock(mutex);
      if (lines.size() >= kMax) lines.pop_front();
      lines.push_back(std::move(s));
    }
    cv.notify_one();
  }
};

// ---- web UI (GET / and /static/...) and the recordings it plays

bool serve_web_ui(const httplib::Request& req, httplib::Response& res) {
  if (req.method != "GET" && req.method != "HEAD") return false;
  const WebAsset* asset = find_web_asset(req.path);
  if (!asset) return false;
  res.status = 200;
  res.set_header("Content-Security-Policy", kWebCsp);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Cache-Control", "no-cache");
  res.set_content(reinterpret_cast<const char*>(asset->data), asset->size, web_content_type(asset->path));
  return true;
}

}  // namespace

Result<std::string> load_or_create_token(const std::filesystem::path& file) {
  std::error_code ec;
  if (std::filesystem::exists(file, ec)) {
    auto text = paths::read_file(file);
    if (!text) return make_error(text.error());
    std::string token = *text;
    while (!token.empty() && (token.back() == '\n' || token.back() == ' ')) token.pop_back();
    if (token.size() >= 32) return token;
    // Too short to be ours: replaced below.
  }
  unsigned char raw[32];
  if (getrandom(raw, sizeof raw, 0) != ssize_t(sizeof raw)) return make_error("cannot read random bytes for the API token");
  static const char* hex = "0123456789abcdef";
  std::string token;
  for (unsigned char b : raw) {
    token += hex[b >> 4];
    token += hex[b & 15];
  }
  if (auto dir = paths::ensure_dir(file.parent_path(), "data dir"); !dir) return make_error(dir.error());
  if (auto written = paths::write_file_atomic(file, token + "\n"); !written) return make_error(written.error());
  return token;
}

HttpApi::HttpApi(DictationService& service, std::string token)
    : service_(service), token_(std::move(token)), server_(std::make_unique<httplib::Server>()) {}

HttpApi::~HttpApi() { stop(); }

Result<int> HttpApi::start(int port) {
  // Event streams hold a worker each; enough workers that they never starve requests.
  server_->new_task_queue = [] { return new httplib::ThreadPool(16); };
  server_->set_payload_max_length(kMaxBody);
  server_->set_read_timeout(10, 0);
  server_->set_write_timeout(5, 0);
  routes();
  // The packaged cpp-httplib listens with a backlog of 5, which drops bursts of local
  // clients; the listening socket is captured here and its backlog raised after bind.
  int listen_fd = -1;
  server_->set_socket_options([&listen_fd](socket_t sock) {
    httplib::default_socket_options(sock);
    listen_fd = sock;
  });
  int bound = port == 0 ? server_->bind_to_any_port("127.0.0.1") : (server_->bind_to_port("127.0.0.1", port) ? port : -1);
  if (bound < 0)
    return make_error("cannot listen on 127.0.0.1:" + std::to_string(port) +
                      " (in use?); set server.port in the config, or 0 to pick a free port");
  if (listen_fd >= 0) ::listen(listen_fd, 256);  // on Linux, listen() again updates the backlog
  port_ = bound;
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return bound;
}

void HttpApi::stop() {
  stopping_.store(true, std::memory_order_release);
  if (thread_.joinable()) {
    server_->stop();
    thread_.join();
  }
}

void HttpApi::routes() {
  auto& s = *server_;
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (req.has_header("Origin")) {
      const std::string origin = req.get_header_value("Origin");
      const std::string port = std::to_string(port_);
      if (origin != "http://127.0.0.1:" + port && origin != "http://localhost:" + port) {
        send_error(res, 403, "cross-origin request refused (Origin: " + origin + ")");
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    // The web UI's own files carry no user data: served before the token check (web_ui.h).
    if (serve_web_ui(req, res)) return httplib::Server::HandlerResponse::Handled;
    const std::string auth = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    if (auth.rfind(prefix, 0) != 0 || !same_secret(auth.substr(prefix.size()), token_)) {
      res.set_header("WWW-Authenticate", "Bearer");
      send_error(res, 401, auth.empty() ? "missing API token (Authorization: Bearer <token from the api-token file>)"
                                        : "invalid API token");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  s.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string message = "error";
    if (res.status == 404) message = "no such route: " + req.method + " " + req.path;
    else if (res.status == 413) message = "request body too large (limit " + std::to_string(kMaxBody) + " bytes)";
    else if (res.status == 400) message = "bad request";
    send_error(res, res.status, message);
    return httplib::Server::HandlerResponse::Handled;
  }));
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send_error(res, 500, what);
  });

  s.Post("/api/start", [this](const httplib::Request&, httplib::Response& res) { send_result(res, service_.start()); });
  s.Post("/api/stop", [this](const httplib::Request&, httplib::Response& res) { send_result(res, service_.stop()); });
  s.Post("/api/cancel", [this](const httplib::Request&, httplib::Response& res) { send_result(res, service_.cancel()); });
  s.Get("/api/status", [this](const httplib::Request&, httplib::Response& res) { send_json(res, 200, service_.status()); });
  // Hands-free mode on or off: {"enabled": true|false} -> {"hands_free": bool}.
  s.Post("/api/hands-free", [this](const httplib::Request& req, httplib::Response& res) {
    const json doc = json::parse(req.body, nullptr, false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("enabled") || !doc["enabled"].is_boolean())
      return send_error(res, 400, "expected {\"enabled\": true|false}");
    send_result(res, service_.set_hands_free(doc["enabled"].get<bool>()));
  });

  s.Get("/api/history", [this](const httplib::Request& req, httplib::Response& res) {
    store::HistoryQuery q;
    q.search = req.get_param_value("search");
    if (req.has_param("limit")) {
      const std::string text = req.get_param_value("limit");
      size_t used = 0;
      int limit = -1;
      try {
        limit = std::stoi(text, &used);
      } catch (...) {
      }
      if (used != text.size() || limit < 0) return send_error(res, 400, "limit must be a non-negative integer, got '" + text + "'");
      q.limit = limit;
    }
    auto history = service_.history();
    if (!history) return send_error(res, 500, history.error());
    auto entries = (*history)->search(q);
    if (!entries) return send_error(res, 400, entries.error());
    json out = json::array();
    for (const auto& e : *entries) out.push_back(history_entry_to_json(e));
    send_json(res, 200, out);
  });
  s.Get("/api/history/export", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.has_param("format") ? req.get_param_value("format") : "json";
    auto format = store::parse_export_format(name);
    if (!format) return send_error(res, 400, "unknown export format '" + name + "' (json, csv, txt)");
    auto history = service_.history();
    if (!history) return send_error(res, 500, history.error());
    std::ostringstream out;
    if (auto r = (*history)->export_to(out, *format); !r) return send_error(res, 500, r.error());
    const char* type = *format == store::ExportFormat::json ? "application/json"
                       : *format == store::ExportFormat::csv ? "text/csv" : "text/plain; charset=utf-8";
    res.set_content(out.str(), type);
  });
  s.Delete(R"(/api/history/(\d+))", [this](const httplib::Request& req, httplib::Response& res) {
    const auto parsed = history_id(req);
    if (!parsed) return send_error(res, 404, "no history entry " + req.matches[1].str());
    const int64_t id = *parsed;
    auto history = service_.history();
    if (!history) return send_error(res, 500, history.error());
    auto removed = (*history)->remove(id);
    if (!removed) return send_error(res, 500, removed.error());
    if (!removed->has_value()) return send_error(res, 404, "no history entry with id " + std::to_string(id));
    json out{{"removed", id}, {"audio_deleted", false}};
    const auto& audio = (**removed).audio_path;
    std::error_code ec;
    if (!audio.empty() && std::filesystem::remove(audio, ec)) out["audio_deleted"] = true;
    else if (!audio.empty() && ec) out["warning"] = "recording " + audio + " could not be deleted: " + ec.message();
    send_json(res, 200, out);
  });

  // The recording of a history row, for the web UI's player (token required: it is user data).
  s.Get(R"(/api/history/(\d+)/audio)", [this](const httplib::Request& req, httplib::Response& res) {
    const auto parsed = history_id(req);
    if (!parsed) return send_error(res, 404, "no history entry " + req.matches[1].str());
    const int64_t id = *parsed;
    auto history = service_.history();
    if (!history) return send_error(res, 500, history.error());
    auto entry = (*history)->get(id);
    if (!entry) return send_error(res, 500, entry.error());
    if (!entry->has_value()) return send_error(res, 404, "no history entry with id " + std::to_string(id));
    const std::string path = (**entry).audio_path;
    if (path.empty()) return send_error(res, 404, "history entry " + std::to_string(id) + " has no recording");
    auto bytes = paths::read_file(path);
    if (!bytes) return send_error(res, 404, "the recording of entry " + std::to_string(id) + " is gone: " + bytes.error());
    res.set_header("Cache-Control", "no-store");
    res.set_content(std::move(*bytes), "audio/wav");
  });

  // The audio server's inputs, for the settings screen's device choice.
  s.Get("/api/devices", [](const httplib::Request&, httplib::Response& res) {
    auto devices = audio::list_input_devices();
    if (!devices) return send_error(res, 500, devices.error());
    json list = json::array();
    for (const auto& d : *devices)
      list.push_back(json{{"name", d.name}, {"description", d.description}, {"sample_rate", d.sample_rate},
                          {"channels", d.channels}, {"is_default", d.is_default}, {"is_monitor", d.is_monitor}});
    send_json(res, 200, json{{"devices", list}});
  });

  s.Get("/api/config", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, config_to_json(*service_.config()));
  });
  s.Put("/api/config", [this](const httplib::Request& req, httplib::Response& res) {
    json doc;
    try {
      doc = json::parse(req.body);
    } catch (const json::parse_error& e) {
      return send_error(res, 400, std::string("malformed JSON: ") + e.what());
    }
    if (!doc.is_object()) return send_error(res, 400, "the config must be a JSON object");
    auto config = service_.replace_config(doc);
    if (!config) return send_error(res, 400, config.error());
    send_json(res, 200, config_to_json(**config));
  });

  s.Get("/api/models", [this](const httplib::Request&, httplib::Response& res) {
    auto entries = models::catalog();
    if (!entries) return send_error(res, 500, entries.error());
    const auto dir = models::models_dir();
    json list = json::array();
    for (const auto& e : *entries) {
      std::error_code ec;
      const auto size = std::filesystem::file_size(dir / e.file, ec);
      list.push_back(json{{"name", e.name}, {"file", e.file}, {"bytes", e.bytes}, {"installed", !ec && size == e.bytes}});
    }
    json out{{"models", list}, {"models_dir", dir.string()}, {"current", service_.status()["model"]}};
    auto resolved = service_.resolve_model();
    out["resolved"] = resolved ? json(*resolved) : json(nullptr);
    if (!resolved) out["resolve_error"] = resolved.error();
    send_json(res, 200, out);
  });

  // Downloads run on ModelPull's thread; the request only starts one.
  s.Post("/api/models/pull", [this](const httplib::Request& req, httplib::Response& res) {
    const json body = json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("name") || !body["name"].is_string())
      return send_error(res, 400, "expected {\"name\": \"MODEL\"}");
    send_result(res, model_pull_.start(body["name"].get<std::string>()));
  });
  s.Get("/api/models/pull", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, model_pull_.status());
  });

  s.Get("/api/events", [this](const httplib::Request&, httplib::Response& res) {
    auto queue = std::make_shared<EventQueue>();
    auto& bus = service_.bus();
    const auto sub = bus.subscribe([queue](const pipeline::PipelineEvent& e) {
      const json j = event_to_json(e);
      queue->push("event: " + j["event"].get<std::string>() + "\ndata: " + to_wire(j) + "\n\n");
    });
    queue->push("event: daemon-status\ndata: " + to_wire(status_event(service_.status())) + "\n\n");
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, queue](size_t, httplib::DataSink& sink) {
          std::unique_lock lock(queue->mutex);
          // Wakes at least once a second to notice a shutdown; a comment line every wait
          // that found nothing finds a client that went away.
          queue->cv.wait_for(lock, std::chrono::seconds(1), [&] { return !queue->lines.empty(); });
          if (stopping_.load(std::memory_order_acquire)) {
            lock.unlock();
            sink.done();
            return false;
          }
          std::deque<std::string> lines;
          lines.swap(queue->lines);
          lock.unlock();
          if (lines.empty()) {
            static const std::string ping = ": ping\n\n";
            return sink.write(ping.data(), ping.size());
          }
          for (const auto& l : lines)
            if (!sink.write(l.data(), l.size())) return false;
          return true;
        },
        [&bus, sub](bool) { bus.unsubscribe(sub); });
  });
}

}  // namespace thoth::server
