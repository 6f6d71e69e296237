// Clients for the two chat protocols local and remote LLM servers speak: Ollama's
// /api/chat (NDJSON when streaming) and the OpenAI-compatible /v1/chat/completions (SSE
// when streaming). Any failure comes back as a reason; the caller keeps the filtered text.
#pragma once
#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include "core/result.h"
#include "enhance/prompt.h"

namespace thoth::enhance {

enum class Protocol { ollama, openai };

struct EndpointConfig {
  Protocol protocol = Protocol::ollama;
  std::string base_url = "http://127.0.0.1:11434";  // OpenAI-style: ".../v1" may be included
  std::string model = "llama3.2";
  std::string api_key;  // empty: $THOTH_ENHANCE_API_KEY, $THOTH_API_KEY, then (openai
                        // protocol only) $OPENAI_API_KEY
  bool stream = true;
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds total_timeout{30'000};  // for all attempts together
  int retries = 2;            // extra attempts after a failure to connect, nothing else
  double temperature = 0.2;   // low: edit, do not invent
};

std::string_view to_string(Protocol protocol);
Result<Protocol> parse_protocol(std::string_view name);  // "ollama" or "openai"

struct EnhancedText {
  std::string text;
  std::string model;
  std::chrono::milliseconds duration{0};
};

// Called with each piece of text as a streamed reply arrives (on the calling thread).
using DeltaCallback = std::function<void(std::string_view delta)>;

// One blocking chat request. `cancel` is polled at least every 50 ms; when it becomes true
// the transfer is abandoned and an error saying "cancelled" is returned.
Result<EnhancedText> enhance_text(const EndpointConfig& endpoint, const PromptTemplate& tmpl,
                                  const PromptInputs& inputs, const std::atomic<bool>& cancel,
                                  const DeltaCallback& on_delta = {});

// The same request on a thread of its own, owned by this object: wait() joins it, cancel()
// stops it promptly, and the destructor cancels and joins whatever still runs.
class EnhancementJob {
 public:
  EnhancementJob(EndpointConfig endpoint, PromptTemplate tmpl, PromptInputs inputs,
                 DeltaCallback on_delta = {});
  ~EnhancementJob();
  EnhancementJob(const EnhancementJob&) = delete;
  EnhancementJob& operator=(const EnhancementJob&) = delete;

  void cancel();
  bool finished() const;
  // Blocks until the request ends; call once.
  Result<EnhancedText> wait();

 private:
  std::atomic<bool> cancel_{false};
  std::atomic<bool> finished_{false};
  Result<EnhancedText> result_{Error{"enhancement did not run"}};
  std::thread thread_;
};

}  // namespace thoth::enhance
