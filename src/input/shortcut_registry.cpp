#include "input/shortcut_registry.h"


namespace thoth::input {
namespace {

Error conflict(const Accelerator& a, const std::string& holder, const std::string& action) {
  return make_error(format_accelerator(a) + " is already the shortcut for '" + holder +
                    "'; it cannot also be '" + action + "'");
}

}  // namespace

Result<void> ShortcutRegistry::bind(const std::string& action, const Accelerator& accelerator) {
  if (action.empty()) return make_error("a shortcut needs an action name");
  {
    std::unique_lock lock(mutex_);
    auto held = by_accelerator_.find(accelerator);
    if (held != by_accelerator_.end()) {
      if (held->second == action) return {};
      return conflict(accelerator, held->second, action);
    }
    if (auto old = by_action_.find(action); old != by_action_.end()) by_accelerator_.erase(old->second);
    by_action_[action] = accelerator;
    by_accelerator_[accelerator] = action;
    ++generation_;
  }
  notify();
  return {};
}

Result<void> ShortcutRegistry::bind(const std::string& action, std::string_view accelerator_text) {
  auto a = parse_accelerator(accelerator_text);
  if (!a) return make_error(a.error());
  return bind(action, *a);
}

bool ShortcutRegistry::unbind(std::string_view action) {
  {
    std::unique_lock lock(mutex_);
    auto it = by_action_.find(action);
    if (it == by_action_.end()) return false;
    by_accelerator_.erase(it->second);
    by_action_.erase(it);
    ++generation_;
  }
  notify();
  return true;
}

Result<void> ShortcutRegistry::replace(const std::vector<Binding>& bindings) {
  std::map<Accelerator, std::string> by_accelerator;
  std::map<std::string, Accelerator, std::less<>> by_action;
  for (const auto& b : bindings) {
    if (b.action.empty()) return make_error("a shortcut needs an action name");
    if (by_action.count(b.action)) return make_error("action '" + b.action + "' is listed twice");
    auto [it, fresh] = by_accelerator.emplace(b.accelerator, b.action);
    if (!fresh) return conflict(b.accelerator, it->second, b.action);
    by_action.emplace(b.action, b.accelerator);
  }
  {
    std::unique_lock lock(mutex_);
    by_accelerator_ = std::move(by_accelerator);
    by_action_ = std::move(by_action);
    ++generation_;
  }
  notify();
  return {};
}

std::optional<std::string> ShortcutRegistry::lookup(const Accelerator& accelerator) const {
  std::shared_lock lock(mutex_);
  auto it = by_accelerator_.find(accelerator);
  if (it == by_accelerator_.end()) return std::nullopt;
  return it->second;
}

std::optional<Accelerator> ShortcutRegistry::find(std::string_view action) const {
  std::shared_lock lock(mutex_);
  auto it = by_action_.find(action);
  if (it == by_action_.end()) return std::nullopt;
  return it->second;
}

std::vector<Binding> ShortcutRegistry::bindings() const {
  std::shared_lock lock(mutex_);
  std::vector<Binding> out;
  out.reserve(by_action_.size());
  for (const auto& [action, accelerator] : by_action_) out.push_back({action, accelerator});
  return out;
}

uint64_t ShortcutRegistry::generation() const {
  std::shared_lock lock(mutex_);
  return generation_;
}

int ShortcutRegistry::on_change(Listener listener) {
  std::lock_guard lock(listeners_mutex_);
  const int id = next_listener_++;
  listeners_[id] = std::move(listener);
  return id;
}

void ShortcutRegistry::remove_listener(int id) {
  std::lock_guard lock(listeners_mutex_);
  listeners_.erase(id);
}

void ShortcutRegistry::notify() {
  // Held while calling, so that remove_listener() waits out a running call.
  std::lock_guard lock(listeners_mutex_);
  for (auto& [id, listener] : listeners_) listener();
}

}  // namespace thoth::input
