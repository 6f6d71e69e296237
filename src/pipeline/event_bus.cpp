#include "pipeline/event_bus.h"

#include <algorithm>
#include <vector>

namespace thoth::pipeline {

std::string_view PipelineEvent::name() const {
  switch (kind) {
    case Kind::Progress: return "pipeline-progress";
    case Kind::Complete: return "pipeline-complete";
    case Kind::Error: return "pipeline-error";
    case Kind::Level: return "input-level";
    case Kind::HandsFree: return "hands-free";
  }
  return "pipeline-progress";
}

EventBus::~EventBus() {
  std::vector<SubscriptionId> ids;
  {
    std::shared_lock lock(mutex_);
    for (const auto& [id, s] : subscribers_) ids.push_back(id);
  }
  for (auto id : ids) unsubscribe(id);
}

void EventBus::Subscriber::run() {
  std::unique_lock lock(mutex);
  for (;;) {
    cv.wait(lock, [&] { return closing || !queue.empty(); });
    if (closing) return;
    auto event = std::move(queue.front());
    queue.pop_front();
    busy = true;
    lock.unlock();  // the handler may be slow: never hold the queue lock across it
    handler(*event);
    lock.lock();
    busy = false;
    cv.notify_all();  // flush() waiters
  }
}

EventBus::SubscriptionId EventBus::subscribe(Handler handler, size_t queue_capacity) {
  auto s = std::make_shared<Subscriber>();
  s->handler = std::move(handler);
  s->capacity = std::max<size_t>(queue_capacity, 1);
  s->thread = std::thread([raw = s.get()] { raw->run(); });
  std::unique_lock lock(mutex_);
  const SubscriptionId id = next_id_++;
  subscribers_.emplace(id, std::move(s));
  return id;
}

void EventBus::unsubscribe(SubscriptionId id) {
  std::shared_ptr<Subscriber> s;
  {
    std::unique_lock lock(mutex_);
    auto it = subscribers_.find(id);
    if (it == subscribers_.end()) return;
    s = std::move(it->second);
    subscribers_.erase(it);
  }
  {
    std::lock_guard lock(s->mutex);
    s->closing = true;
    s->queue.clear();
  }
  s->cv.notify_all();
  s->thread.join();  // waits for a handler already running, never for the queue
}

void EventBus::publish(PipelineEvent event) {
  auto shared = std::make_shared<const PipelineEvent>(std::move(event));
  std::shared_lock lock(mutex_);
  for (const auto& [id, s] : subscribers_) {
    {
      std::lock_guard qlock(s->mutex);
      if (s->closing) continue;
      if (s->queue.size() >= s->capacity) {
        auto victim = std::find_if(s->queue.begin(), s->queue.end(), [](const auto& e) {
          return e->kind == PipelineEvent::Kind::Level;
        });
        if (victim == s->queue.end()) victim = s->queue.begin();
        s->queue.erase(victim);
        // A statistic read by other threads; no ordering needed.
        s->dropped.fetch_add(1, std::memory_order_relaxed);
      }
      s->queue.push_back(shared);
    }
    s->cv.notify_all();
  }
}

uint64_t EventBus::dropped(SubscriptionId id) const {
  std::shared_lock lock(mutex_);
  auto it = subscribers_.find(id);
  return it == subscribers_.end() ? 0 : it->second->dropped.load(std::memory_order_relaxed);
}

bool EventBus::flush(SubscriptionId id, std::chrono::milliseconds timeout) const {
  std::shared_ptr<Subscriber> s;
  {
    std::shared_lock lock(mutex_);
    auto it = subscribers_.find(id);
    if (it == subscribers_.end()) return true;
    s = it->second;
  }
  std::unique_lock lock(s->mutex);
  return s->cv.wait_for(lock, timeout, [&] { return s->closing || (s->queue.empty() && !s->busy); });
}

}  // namespace thoth::pipeline
