#include "core/child_process.h"

#include <gtest/gtest.h>

#include <thread>

namespace thoth {
namespace {

using namespace std::chrono_literals;

TEST(ChildProcess, PassesInputAndCollectsOutputAndExitCode) {
  ChildOptions o;
  o.input = "hello wörld\n";
  o.capture_stdout = true;
  auto r = run_child({"sh", "-c", "cat; echo oops >&2; exit 3"}, o);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, "hello wörld\n");
  EXPECT_EQ(r->err, "oops");
}

TEST(ChildProcess, MissingProgramIsAClearError) {
  auto r = run_child({"thoth-no-such-tool", "x"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), "thoth-no-such-tool is not installed");
  EXPECT_TRUE(program_on_path("sh"));
  EXPECT_FALSE(program_on_path("thoth-no-such-tool"));
}

TEST(ChildProcess, TimeoutAndCancelKillTheChild) {
  ChildOptions o;
  o.timeout = 200ms;
  auto t = run_child({"sleep", "30"}, o);
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().find("timed out"), std::string::npos);

  std::atomic<bool> cancel{false};
  ChildOptions c;
  c.cancel = &cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(100ms);
    cancel = true;
  });
  const auto start = std::chrono::steady_clock::now();
  auto r = run_child({"sleep", "30"}, c);
  canceller.join();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("cancelled"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);  // a hang check, not a timing
}

// Like wl-copy: the program forks a server that keeps our pipes open and exits itself.
TEST(ChildProcess, AForkedServerDoesNotHoldTheCallerUp) {
  ChildOptions o;
  o.timeout = 20s;
  const auto start = std::chrono::steady_clock::now();
  auto r = run_child({"sh", "-c", "sleep 5 & echo started >&2"}, o);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
}

}  // namespace
}  // namespace thoth
