#include "input/shortcut_registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace thoth::input {
namespace {

Accelerator accel(std::string_view text) {
  auto a = parse_accelerator(text);
  EXPECT_TRUE(a.ok()) << text;
  return a.ok() ? *a : Accelerator{};
}

TEST(ShortcutRegistry, BindsLooksUpAndUnbinds) {
  ShortcutRegistry r;
  ASSERT_TRUE(r.bind("record", "Ctrl+Alt+Space").ok());
  ASSERT_TRUE(r.bind("cancel", accel("Ctrl+Alt+Escape")).ok());
  EXPECT_EQ(r.lookup(accel("ctrl+alt+space")), "record");
  EXPECT_EQ(r.lookup(accel("Ctrl+Alt+Escape")), "cancel");
  EXPECT_EQ(r.lookup(accel("Ctrl+Space")), std::nullopt);
  EXPECT_EQ(r.find("record"), accel("Ctrl+Alt+Space"));
  ASSERT_EQ(r.bindings().size(), 2u);
  EXPECT_EQ(r.bindings()[0].action, "cancel");  // sorted by action

  EXPECT_TRUE(r.unbind("record"));
  EXPECT_FALSE(r.unbind("record"));
  EXPECT_EQ(r.lookup(accel("Ctrl+Alt+Space")), std::nullopt);
  EXPECT_EQ(r.find("record"), std::nullopt);
}

TEST(ShortcutRegistry, RebindingAnActionFreesItsOldAccelerator) {
  ShortcutRegistry r;
  ASSERT_TRUE(r.bind("record", "Ctrl+Alt+Space").ok());
  ASSERT_TRUE(r.bind("record", "Super+D").ok());
  EXPECT_EQ(r.lookup(accel("Ctrl+Alt+Space")), std::nullopt);
  EXPECT_EQ(r.lookup(accel("Super+D")), "record");
  ASSERT_TRUE(r.bind("cancel", "Ctrl+Alt+Space").ok());  // free again
}

TEST(ShortcutRegistry, RefusesAConflictNamingBothActions) {
  ShortcutRegistry r;
  ASSERT_TRUE(r.bind("record", "Ctrl+Alt+Space").ok());
  const uint64_t before = r.generation();
  auto conflict = r.bind("cancel", "control+alt+space");
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error(), "Ctrl+Alt+Space is already the shortcut for 'record'; it cannot also be 'cancel'");
  EXPECT_EQ(r.lookup(accel("Ctrl+Alt+Space")), "record");
  EXPECT_EQ(r.find("cancel"), std::nullopt);
  EXPECT_EQ(r.generation(), before);  // nothing changed

  auto invalid = r.bind("cancel", "Ctrl+Alt+Spcae");
  ASSERT_FALSE(invalid.ok());
  EXPECT_EQ(invalid.error(), "unknown key 'Spcae' in 'Ctrl+Alt+Spcae'");
}

TEST(ShortcutRegistry, ReplaceIsAllOrNothing) {
  ShortcutRegistry r;
  ASSERT_TRUE(r.bind("record", "Ctrl+Alt+Space").ok());
  auto bad = r.replace({{"record", accel("Super+D")}, {"cancel", accel("Super+D")}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error(), "Super+D is already the shortcut for 'record'; it cannot also be 'cancel'");
  EXPECT_EQ(r.lookup(accel("Ctrl+Alt+Space")), "record");

  ASSERT_TRUE(r.replace({{"record", accel("Super+D")}, {"cancel", accel("Super+Escape")}}).ok());
  EXPECT_EQ(r.lookup(accel("Ctrl+Alt+Space")), std::nullopt);
  EXPECT_EQ(r.lookup(accel("Super+D")), "record");
  EXPECT_EQ(r.lookup(accel("Super+Escape")), "cancel");
}

TEST(ShortcutRegistry, ListenersHearEveryChangeUntilRemoved) {
  ShortcutRegistry r;
  int calls = 0;
  const int id = r.on_change([&] { ++calls; });
  ASSERT_TRUE(r.bind("record", "Ctrl+Alt+Space").ok());
  ASSERT_TRUE(r.replace({{"cancel", accel("Super+D")}}).ok());
  EXPECT_TRUE(r.unbind("cancel"));
  EXPECT_FALSE(r.bind("x", "Ctrl+Nope").ok());  // refused: no change
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(r.generation(), 3u);
  r.remove_listener(id);
  ASSERT_TRUE(r.bind("record", "Super+R").ok());
  EXPECT_EQ(calls, 3);
}

// Readers (the key thread) and a writer (config reloads) at once: a lookup sees either the
// old or the new binding, never a torn state. Run under TSan to check the locking.
TEST(ShortcutRegistry, ConcurrentLookupsDuringChanges) {
  ShortcutRegistry r;
  const Accelerator a = accel("Ctrl+Alt+Space"), b = accel("Super+D");
  ASSERT_TRUE(r.bind("record", a).ok());
  std::atomic<bool> done{false};
  std::atomic<int> torn{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t)
    readers.emplace_back([&] {
      while (!done.load()) {
        const bool in_a = r.lookup(a).has_value(), in_b = r.lookup(b).has_value();
        (void)in_a;
        (void)in_b;
        const auto all = r.bindings();
        if (all.size() != 1 || all[0].action != "record") torn.fetch_add(1);
      }
    });
  for (int i = 0; i < 2000; ++i) ASSERT_TRUE(r.bind("record", i % 2 ? a : b).ok());
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(torn.load(), 0);
}

}  // namespace
}  // namespace thoth::input
