// Publishes pipeline events to any number of subscribers without ever making the pipeline
// wait for one. Each subscriber has its own bounded queue and its own delivery thread
// (owned and joined by the bus): publish() only appends under that queue's brief lock.
// When a subscriber falls a full queue behind, the oldest input-level update is dropped
// first (a meter only needs the latest), else the oldest event; drops are counted.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>

#include "pipeline/pipeline_state.h"

namespace thoth::pipeline {

struct PipelineResult;

struct PipelineEvent {
  enum class Kind { Progress, Complete, Error, Level, HandsFree };
  Kind kind = Kind::Progress;
  PipelineState state = PipelineState::Idle;
  std::string message;
  std::shared_ptr<const PipelineResult> result;  // Complete and Error
  float rms_dbfs = 0, peak_dbfs = 0;             // Level

  // The wire names: "pipeline-progress", "pipeline-complete", "pipeline-error", "input-level",
  // "hands-free" (the daemon's hands-free mode changed; `message` says how).
  std::string_view name() const;
};

class EventBus {
 public:
  using Handler = std::function<void(const PipelineEvent&)>;
  using SubscriptionId = uint64_t;

  EventBus() = default;
  ~EventBus();  // ends every subscription (joins the delivery threads)
  EventBus(const EventBus&) = delete;
  EventBus& operator=(const EventBus&) = delete;

  // `handler` runs on the subscription's own thread, one event at a time, in order.
  SubscriptionId subscribe(Handler handler, size_t queue_capacity = 256);
  // Stops delivery (pending events are discarded) and joins the delivery thread. Must not
  // be called from inside that subscription's own handler.
  void unsubscribe(SubscriptionId id);

  // Never blocks on a subscriber: at most waits for another publish's brief queue append.
  void publish(PipelineEvent event);

  // Events dropped for this subscriber because its queue was full.
  uint64_t dropped(SubscriptionId id) const;
  // Waits until everything published so far has been handed to this subscriber's handler
  // and returned; false on timeout. For tests and for a CLI that prints events before exit.
  bool flush(SubscriptionId id, std::chrono::milliseconds timeout) const;

 private:
  struct Subscriber {
    Handler handler;
    size_t capacity = 0;
    mutable std::mutex mutex;
    mutable std::condition_variable cv;
    std::deque<std::shared_ptr<const PipelineEvent>> queue;
    bool closing = false;
    bool busy = false;  // handler running
    std::atomic<uint64_t> dropped{0};
    std::thread thread;
    void run();
  };

  mutable std::shared_mutex mutex_;  // guards the map; publishers share it
  std::map<SubscriptionId, std::shared_ptr<Subscriber>> subscribers_;
  SubscriptionId next_id_ = 1;
};

}  // namespace thoth::pipeline
