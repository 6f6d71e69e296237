// `thoth devices` and `thoth dictate` as a user runs them, against a PulseAudio server
// started by the test (the binary finds it through PULSE_SERVER, inherited).
#include <gtest/gtest.h>
#include <signal.h>
#include <sndfile.h>

#include <filesystem>

#include "store/history.h"
#include "support/process.h"
#include "support/pulse_server.h"
#include "support/shared_data.h"

namespace {

using thoth::test::PulseServer;
using thoth::test::run_thoth;
using thoth::test::RunOptions;
using thoth::test::ScratchDir;

std::string mini_model() { return thoth::test::shared_file("models/mini.en-f16.bin").string(); }


TEST(DevicesCommand, ListsInputsWithTheDefaultStarred) {
  auto server = PulseServer::start_or_fail();
  ASSERT_TRUE(server);
  auto r = run_thoth({"devices"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("* virt.monitor"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("monitor of an output"), std::string::npos) << r.out;
}

TEST(DevicesCommand, NoAudioServerIsOneClearLine) {
  ScratchDir dir;
  RunOptions o;
  o.env["PULSE_SERVER"] = "unix:" + (dir / "none").string();
  auto r = run_thoth({"devices"}, o);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot connect to the PulseAudio/PipeWire server"), std::string::npos) << r.err;
}

TEST(DictateCommand, UnknownDeviceNamesIt) {
  auto server = PulseServer::start_or_fail();
  ASSERT_TRUE(server);
  ScratchDir home;
  RunOptions o;
  o.env["THOTH_HOME"] = home.path().string();
  auto r = run_thoth({"dictate", "--now", "--seconds", "1", "--device", "usb-headset", "--model", mini_model()}, o);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no input device named 'usb-headset'"), std::string::npos) << r.err;
}

TEST(DictateCommand, StdinClosedBeforeEnterSaysHowToStart) {
  auto server = PulseServer::start_or_fail();
  ASSERT_TRUE(server);
  ScratchDir home;
  RunOptions o;
  o.env["THOTH_HOME"] = home.path().string();
  auto r = run_thoth({"dictate", "--model", mini_model()}, o);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--now"), std::string::npos) << r.err;
}

TEST(DictateCommand, MissingModelSaysHowToGetOne) {
  ScratchDir home;
  RunOptions o;
  o.env["THOTH_HOME"] = home.path().string();
  o.env["THOTH_MODEL_PATH"] = std::nullopt;
  auto r = run_thoth({"dictate", "--now", "--model", "no-such-model"}, o);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no-such-model"), std::string::npos) << r.err;
}

}  // namespace
