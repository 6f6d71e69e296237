// The daemon's tray icon: a StatusNotifierItem on the session bus, the protocol KDE Plasma,
// waybar, sway's bars, XFCE and GNOME's AppIndicator extension show in their trays. It says
// what the daemon is doing (idle, recording, transcribing, failed) and takes two clicks: the
// primary one opens the web UI, the middle one starts or stops a dictation.
//
// The item registers with org.kde.StatusNotifierWatcher when there is one and again whenever
// one appears (a panel restarted). No watcher, no tray: the daemon runs the same without.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "core/result.h"
#include "pipeline/event_bus.h"

namespace thoth::server {

enum class TrayState { Idle, Recording, Processing, Failed };

// What the icon shows after a pipeline event, given what it showed before (a failure stays
// until the next dictation starts).
TrayState tray_state_for(const pipeline::PipelineEvent& event, TrayState previous);

struct TrayActions {
  std::function<void()> open_ui;           // primary click (Activate)
  std::function<void()> toggle_dictation;  // middle click (SecondaryActivate)
};

class Tray {
 public:
  // Connects to the session bus and exports the item. Errors: no session bus, or the bus
  // refuses the item's name. `hint` is the tooltip's second line (how to dictate).
  static Result<std::unique_ptr<Tray>> start(TrayActions actions, std::string hint);
  ~Tray();  // unregisters (drops the bus name) and joins the bus thread
  Tray(const Tray&) = delete;
  Tray& operator=(const Tray&) = delete;

  // Safe from any thread: the bus thread announces the change (NewStatus, NewIcon, ...).
  void set_state(TrayState state);
  TrayState state() const;
  // A watcher has accepted the item (it is on a tray now).
  bool registered() const;
  const std::string& bus_name() const;

  struct Impl;

 private:
  explicit Tray(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Keeps a Tray in step with the pipeline's events, on its own subscription thread.
class TrayFollower {
 public:
  TrayFollower(pipeline::EventBus& bus, Tray& tray);
  ~TrayFollower();
  TrayFollower(const TrayFollower&) = delete;
  TrayFollower& operator=(const TrayFollower&) = delete;

 private:
  pipeline::EventBus& bus_;
  pipeline::EventBus::SubscriptionId id_ = 0;
};

}  // namespace thoth::server
