#include "enhance/enhancer.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>

#include <nlohmann/json.hpp>

namespace thoth::enhance {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr size_t kMaxReplyBytes = 8 << 20;  // a chat reply is text; more is a broken server
constexpr auto kPollInterval = std::chrono::milliseconds(50);

void global_curl_init() {
  // curl_global_init is not thread-safe on every build; do it once, before any transfer.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string endpoint_url(const EndpointConfig& e) {
  std::string base = e.base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (e.protocol == Protocol::ollama) return base + "/api/chat";
  // OpenAI-style servers are configured either as "http://host:port" or ".../v1".
  if (base.size() >= 3 && base.compare(base.size() - 3, 3, "/v1") == 0) return base + "/chat/completions";
  return base + "/v1/chat/completions";
}

std::string api_key(const EndpointConfig& e) {
  if (!e.api_key.empty()) return e.api_key;
  if (const char* k = std::getenv("THOTH_ENHANCE_API_KEY"); k && *k) return k;
  if (const char* k = std::getenv("THOTH_API_KEY"); k && *k) return k;
  if (e.protocol == Protocol::openai) {
    if (const char* k = std::getenv("OPENAI_API_KEY"); k && *k) return k;
  }
  return {};
}

std::string request_body(const EndpointConfig& e, const ChatPrompt& prompt) {
  json messages = json::array({{{"role", "system"}, {"content", prompt.system}},
                               {{"role", "user"}, {"content", prompt.user}}});
  json body = {{"model", e.model}, {"messages", messages}, {"stream", e.stream}};
  if (e.protocol == Protocol::ollama) body["options"] = {{"temperature", e.temperature}};
  else body["temperature"] = e.temperature;
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Collects the reply as it arrives and, for streams, turns it into text deltas.
struct Transfer {
  const EndpointConfig* endpoint = nullptr;
  const std::atomic<bool>* cancel = nullptr;
  const DeltaCallback* on_delta = nullptr;
  CURL* curl = nullptr;
  std::string raw;       // everything received (for errors and non-streamed replies)
  std::string pending;   // the unfinished last line of a stream
  std::string text;      // the assistant's text so far
  bool finished = false; // the stream said it was complete
  std::string stream_error;
  bool too_big = false;

  bool ok_status() const {
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    return status / 100 == 2;
  }

  void add_delta(const std::string& delta) {
    if (delta.empty()) return;
    text += delta;
    if (on_delta && *on_delta) (*on_delta)(delta);
  }

  void stream_line(std::string_view line) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty() || !stream_error.empty()) return;
    if (endpoint->protocol == Protocol::ollama) {
      json j = json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object()) {
        stream_error = "malformed stream line: " + std::string(line.substr(0, 120));
        return;
      }
      if (j.contains("error")) {
        stream_error = j["error"].is_string() ? j["error"].get<std::string>() : j["error"].dump();
        return;
      }
      if (j.contains("message") && j["message"].is_object() && j["message"].contains("content") &&
          j["message"]["content"].is_string()) {
        add_delta(j["message"]["content"].get<std::string>());
      }
      if (j.value("done", false)) finished = true;
      return;
    }
    // Server-sent events: "data: {...}" lines, "data: [DONE]" at the end; others ignored.
    if (line.substr(0, 5) != "data:") return;
    std::string_view data = line.substr(5);
    while (!data.empty() && data.front() == ' ') data.remove_prefix(1);
    if (data == "[DONE]") {
      finished = true;
      return;
    }
    json j = json::parse(data, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      stream_error = "malformed event: " + std::string(data.substr(0, 120));
      return;
    }
    if (j.contains("error")) {
      const auto& err = j["error"];
      stream_error = err.is_object() && err.contains("message") && err["message"].is_string()
                         ? err["message"].get<std::string>()
                         : err.dump();
      return;
    }
    if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].empty()) return;
    const auto& choice = j["choices"][0];
    if (choice.contains("delta") && choice["delta"].is_object() &&
        choice["delta"].contains("content") && choice["delta"]["content"].is_string()) {
      add_delta(choice["delta"]["content"].get<std::string>());
    }
    if (choice.contains("finish_reason") && choice["finish_reason"].is_string()) finished = true;
  }

  size_t receive(const char* data, size_t size) {
    if (cancel->load(std::memory_order_relaxed)) return 0;  // aborts the transfer
    if (raw.size() + size > kMaxReplyBytes) {
      too_big = true;
      return 0;
    }
    raw.append(data, size);
    if (endpoint->stream && ok_status()) {
      pending.append(data, size);
      size_t start = 0;
      for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
        stream_line(std::string_view(pending).substr(start, nl - start));
      }
      pending.erase(0, start);
    }
    return size;
  }

  static size_t write_cb(char* data, size_t size, size_t n, void* self) {
    return static_cast<Transfer*>(self)->receive(data, size * n);
  }
  static int progress_cb(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<Transfer*>(self)->cancel->load(std::memory_order_relaxed) ? 1 : 0;
  }
};

// The message a server put in an error body, else the start of the body.
std::string server_message(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.contains("error")) {
    const auto& err = j["error"];
    if (err.is_string()) return err.get<std::string>();
    if (err.is_object() && err.contains("message") && err["message"].is_string()) {
      return err["message"].get<std::string>();
    }
  }
  std::string snippet = body.substr(0, 200);
  std::replace(snippet.begin(), snippet.end(), '\n', ' ');
  return snippet.empty() ? "empty body" : snippet;
}

Result<std::string> reply_text(const EndpointConfig& e, const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error("malformed reply (not JSON): " + body.substr(0, 120));
  }
  if (e.protocol == Protocol::ollama) {
    if (j.contains("message") && j["message"].is_object() && j["message"].contains("content") &&
        j["message"]["content"].is_string()) {
      return j["message"]["content"].get<std::string>();
    }
    return make_error("malformed reply: no message.content");
  }
  if (j.contains("choices") && j["choices"].is_array() && !j["choices"].empty()) {
    const auto& c = j["choices"][0];
    if (c.contains("message") && c["message"].is_object() && c["message"].contains("content") &&
        c["message"]["content"].is_string()) {
      return c["message"]["content"].get<std::string>();
    }
  }
  return make_error("malformed reply: no choices[0].message.content");
}

enum class AttemptOutcome { done, connect_failed, failed };

struct Attempt {
  AttemptOutcome outcome = AttemptOutcome::failed;
  std::string text;
  std::string error;
};

Attempt attempt_once(const EndpointConfig& e, const std::string& url, const std::string& body,
                     std::chrono::milliseconds time_left, const std::atomic<bool>& cancel,
                     const DeltaCallback& on_delta) {
  Attempt result;
  CURL* curl = curl_easy_init();
  CURLM* multi = curl_multi_init();
  if (curl == nullptr || multi == nullptr) {
    if (curl) curl_easy_cleanup(curl);
    if (multi) curl_multi_cleanup(multi);
    result.error = "cannot initialise libcurl";
    return result;
  }
  Transfer t;
  t.endpoint = &e;
  t.cancel = &cancel;
  t.on_delta = &on_delta;
  t.curl = curl;

  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  if (e.stream && e.protocol == Protocol::openai) headers = curl_slist_append(headers, "Accept: text/event-stream");
  const std::string key = api_key(e);
  const std::string auth = "Authorization: Bearer " + key;
  if (!key.empty()) headers = curl_slist_append(headers, auth.c_str());

  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Transfer::write_cb);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &Transfer::progress_cb);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for DNS timeouts
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min(e.connect_timeout, time_left).count()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<int64_t>(1, time_left.count())));
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "thoth");
  curl_multi_add_handle(multi, curl);

  // Driving the transfer through the multi interface lets us look at `cancel` every poll
  // interval; the easy interface's progress callback may go a second between calls.
  int running = 1;
  CURLcode code = CURLE_OK;
  while (running > 0) {
    if (curl_multi_perform(multi, &running) != CURLM_OK) {
      code = CURLE_FAILED_INIT;
      break;
    }
    if (running == 0) break;
    if (cancel.load(std::memory_order_relaxed)) {
      code = CURLE_ABORTED_BY_CALLBACK;
      break;
    }
    curl_multi_poll(multi, nullptr, 0, static_cast<int>(kPollInterval.count()), nullptr);
  }
  if (running == 0) {
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg == CURLMSG_DONE) code = msg->data.result;
    }
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_off_t connect_us = 0;
  curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME_T, &connect_us);
  curl_multi_remove_handle(multi, curl);
  curl_easy_cleanup(curl);
  curl_multi_cleanup(multi);
  curl_slist_free_all(headers);

  if (cancel.load(std::memory_order_relaxed)) {
    result.error = "cancelled";
    return result;
  }
  if (t.too_big) {
    result.error = "reply larger than " + std::to_string(kMaxReplyBytes >> 20) + " MB";
    return result;
  }
  if (code != CURLE_OK) {
    // A timeout before the connection was made is a failure to connect, retried like a
    // refusal; a timeout afterwards means the server is too slow, and is final.
    const bool never_connected = code == CURLE_OPERATION_TIMEDOUT && connect_us == 0;
    if (code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST || never_connected) {
      result.outcome = AttemptOutcome::connect_failed;
    }
    result.error = curl_easy_strerror(code);
    if (code == CURLE_OPERATION_TIMEDOUT) {
      result.error = never_connected ? "connecting timed out" : "timed out";
    }
    return result;
  }
  if (status / 100 != 2) {
    result.error = "HTTP " + std::to_string(status) + ": " + server_message(t.raw);
    return result;
  }
  if (e.stream) {
    if (!t.pending.empty()) t.stream_line(t.pending);
    if (!t.stream_error.empty()) {
      result.error = t.stream_error;
      return result;
    }
    if (!t.finished) {
      // Some servers ignore "stream": a single JSON document is a complete reply too.
      auto whole = t.text.empty() ? reply_text(e, t.raw) : Result<std::string>(Error{""});
      if (!whole) {
        result.error = "the reply stream ended before the model finished";
        return result;
      }
      t.text = *whole;
    }
    result.text = std::move(t.text);
  } else {
    auto text = reply_text(e, t.raw);
    if (!text) {
      result.error = text.error();
      return result;
    }
    result.text = std::move(text).value();
  }
  result.outcome = AttemptOutcome::done;
  return result;
}

// Sleeps up to `d`, waking early on cancel.
void pause_unless_cancelled(std::chrono::milliseconds d, const std::atomic<bool>& cancel) {
  const auto until = Clock::now() + d;
  while (Clock::now() < until && !cancel.load(std::memory_order_relaxed)) {
    std::this_thread::sleep_for(std::min<Clock::duration>(kPollInterval, until - Clock::now()));
  }
}

}  // namespace

std::string_view to_string(Protocol protocol) {
  return protocol == Protocol::ollama ? "ollama" : "openai";
}

Result<Protocol> parse_protocol(std::string_view name) {
  if (name == "ollama") return Protocol::ollama;
  if (name == "openai") return Protocol::openai;
  return make_error("unknown enhancement protocol \"" + std::string(name) + "\" (use ollama or openai)");
}

Result<EnhancedText> enhance_text(const EndpointConfig& endpoint, const PromptTemplate& tmpl,
                                  const PromptInputs& inputs, const std::atomic<bool>& cancel,
                                  const DeltaCallback& on_delta) {
  global_curl_init();
  const auto start = Clock::now();
  const std::string url = endpoint_url(endpoint);
  const std::string where = "enhancement via " + std::string(to_string(endpoint.protocol)) +
                            " at " + url + " (model " + endpoint.model + ")";
  if (inputs.text.find_first_not_of(" \t\r\n") == std::string::npos) {
    return make_error(where + ": nothing to enhance");
  }
  const std::string body = request_body(endpoint, build_prompt(tmpl, inputs));
  const auto deadline = start + endpoint.total_timeout;
  Attempt attempt;
  for (int i = 0; i <= std::max(0, endpoint.retries); ++i) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      attempt.error = "timed out";
      break;
    }
    attempt = attempt_once(endpoint, url, body, left, cancel, on_delta);
    if (attempt.outcome != AttemptOutcome::connect_failed) break;
    // Only a refused or unresolved connection is retried: the server may be starting up.
    // Anything after the request was sent could have been processed already.
    if (i < endpoint.retries) pause_unless_cancelled(std::chrono::milliseconds(150 << i), cancel);
    if (cancel.load(std::memory_order_relaxed)) {
      attempt.error = "cancelled";
      break;
    }
  }
  if (attempt.outcome != AttemptOutcome::done) {
    std::string reason = attempt.error;
    if (attempt.outcome == AttemptOutcome::connect_failed) {
      reason += endpoint.protocol == Protocol::ollama ? " (is Ollama running? `ollama serve`)"
                                                      : " (is the server running?)";
    }
    return make_error(where + " failed: " + reason);
  }
  std::string text = clean_reply(attempt.text, inputs.text);
  if (text.empty()) return make_error(where + " failed: the model returned no text");
  return EnhancedText{std::move(text), endpoint.model,
                      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start)};
}

EnhancementJob::EnhancementJob(EndpointConfig endpoint, PromptTemplate tmpl, PromptInputs inputs,
                               DeltaCallback on_delta) {
  thread_ = std::thread([this, endpoint = std::move(endpoint), tmpl = std::move(tmpl),
                         inputs = std::move(inputs), on_delta = std::move(on_delta)] {
    result_ = enhance_text(endpoint, tmpl, inputs, cancel_, on_delta);
    // release: whoever sees finished() == true also sees result_ (read after join anyway).
    finished_.store(true, std::memory_order_release);
  });
}

EnhancementJob::~EnhancementJob() {
  cancel();
  if (thread_.joinable()) thread_.join();
}

// relaxed: the flag carries no data; the worker only needs to see it eventually (next poll).
void EnhancementJob::cancel() { cancel_.store(true, std::memory_order_relaxed); }

bool EnhancementJob::finished() const { return finished_.load(std::memory_order_acquire); }

Result<EnhancedText> EnhancementJob::wait() {
  if (thread_.joinable()) thread_.join();
  return std::move(result_);
}

}  // namespace thoth::enhance
