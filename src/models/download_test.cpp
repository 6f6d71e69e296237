#include "models/download.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <thread>

#include "models/test_model_server.h"
#include "support/shared_data.h"

namespace thoth::models {
namespace {
namespace fs = std::filesystem;
using test::Behaviour;
using test::ServedFile;
using test::TestModelServer;

constexpr std::size_t kSize = 300 * 1024 + 17;  // a few hundred KB, not a multiple of any block

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary);
  out << bytes;
}

struct DownloadTest : ::testing::Test {
  thoth::test::ScratchDir dir;
  TestModelServer server;
  std::string bytes = test::random_bytes(kSize, 42);
  std::string sha = test::sha256_hex(bytes);
  fs::path dest = dir / "models" / "ggml-test.bin";

  DownloadRequest request(const std::string& file = "ggml-test.bin") const {
    return DownloadRequest{server.url() + "/" + file, dest, kSize, sha};
  }
  static DownloadOptions quick() {
    DownloadOptions o;
    o.connect_timeout = std::chrono::milliseconds(2000);
    o.stall_timeout = std::chrono::seconds(2);
    return o;
  }
};

TEST_F(DownloadTest, FullTransferIsVerifiedAndRenamedIntoPlace) {
  server.add("ggml-test.bin", ServedFile{bytes});
  std::uint64_t last_done = 0, calls = 0;
  auto opts = quick();
  opts.on_progress = [&](const DownloadProgress& p) {
    EXPECT_GE(p.done, last_done);
    EXPECT_EQ(p.total, kSize);
    last_done = p.done;
    ++calls;
  };
  auto r = download(request(), opts);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(read_file(dest), bytes);
  EXPECT_FALSE(fs::exists(part_path(dest)));
  EXPECT_EQ(last_done, kSize);
  EXPECT_GT(calls, 0u);
  struct stat st {};
  ASSERT_EQ(::stat(dest.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0600, 0600u);
  EXPECT_EQ(server.ranges(), std::vector<std::string>{""});
}

TEST_F(DownloadTest, InterruptedTransferResumesWithRange) {
  const std::size_t cut = 100 * 1024 + 3;
  server.add("ggml-test.bin", ServedFile{bytes, Behaviour::kDropOnce, cut});
  auto first = download(request(), quick());
  ASSERT_FALSE(first.ok());
  EXPECT_NE(first.error().find("dropped"), std::string::npos) << first.error();
  EXPECT_NE(first.error().find("resume"), std::string::npos) << first.error();
  EXPECT_FALSE(fs::exists(dest));
  ASSERT_TRUE(fs::exists(part_path(dest)));
  EXPECT_EQ(fs::file_size(part_path(dest)), cut);

  std::uint64_t resumed_from = 0;
  auto opts = quick();
  opts.on_progress = [&](const DownloadProgress& p) { resumed_from = p.resumed_from; };
  auto second = download(request(), opts);
  ASSERT_TRUE(second.ok()) << second.error();
  EXPECT_EQ(read_file(dest), bytes);  // the checksum covered the part from the first attempt
  EXPECT_EQ(resumed_from, cut);
  auto ranges = server.ranges();
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0], "");
  EXPECT_EQ(ranges[1], "bytes=" + std::to_string(cut) + "-");
}

TEST_F(DownloadTest, ServerIgnoringRangeRestartsFromScratch) {
  server.add("ggml-test.bin", ServedFile{bytes, Behaviour::kIgnoreRange});
  fs::create_directories(dest.parent_path());
  // A part that is not a prefix of the file: appending to it would fail the checksum.
  write_file(part_path(dest), test::random_bytes(50 * 1024, 7));
  auto r = download(request(), quick());
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(read_file(dest), bytes);
  EXPECT_EQ(server.ranges(), std::vector<std::string>{"bytes=51200-"});
}

TEST_F(DownloadTest, CompletePartIsVerifiedWithoutTransfer) {
  server.add("ggml-test.bin", ServedFile{bytes});
  fs::create_directories(dest.parent_path());
  write_file(part_path(dest), bytes);
  auto r = download(request(), quick());
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(read_file(dest), bytes);
  EXPECT_TRUE(server.ranges().empty());
}

TEST_F(DownloadTest, ChecksumMismatchIsRefusedAndKeptAside) {
  std::string corrupt = bytes;
  corrupt[kSize / 2] ^= 0x01;
  server.add("ggml-test.bin", ServedFile{corrupt});
  auto r = download(request(), quick());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("checksum"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find(rejected_path(dest).string()), std::string::npos) << r.error();
  EXPECT_NE(r.error().find(test::sha256_hex(corrupt)), std::string::npos) << r.error();
  EXPECT_EQ(r.error().find('\n'), std::string::npos);
  EXPECT_FALSE(fs::exists(dest));
  EXPECT_FALSE(fs::exists(part_path(dest)));
  EXPECT_EQ(read_file(rejected_path(dest)), corrupt);
}

TEST_F(DownloadTest, LongerThanExpectedIsRefused) {
  server.add("ggml-test.bin", ServedFile{bytes + "extra"});
  auto r = download(request(), quick());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("more than the expected"), std::string::npos) << r.error();
  EXPECT_FALSE(fs::exists(dest));
}

TEST_F(DownloadTest, NotFoundIsOneActionableLine) {
  auto r = download(request("ggml-missing.bin"), quick());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("404"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find(server.url() + "/ggml-missing.bin"), std::string::npos) << r.error();
  EXPECT_EQ(r.error().find('\n'), std::string::npos);
  EXPECT_FALSE(fs::exists(dest));
  EXPECT_FALSE(fs::exists(part_path(dest)));  // nothing half-made is left behind
}

TEST_F(DownloadTest, ConnectionRefusedIsOneActionableLine) {
  auto req = request();
  server.stop();  // its port is now closed
  auto r = download(req, quick());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("cannot connect"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("THOTH_MODEL_BASE_URL"), std::string::npos) << r.error();
  EXPECT_FALSE(fs::exists(part_path(dest)));
}

TEST_F(DownloadTest, StallingServerTimesOut) {
  const std::size_t cut = 64 * 1024;
  server.add("ggml-test.bin", ServedFile{bytes, Behaviour::kStall, cut});
  auto t0 = std::chrono::steady_clock::now();
  auto r = download(request(), quick());
  auto elapsed = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("stalled"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("resume"), std::string::npos) << r.error();
  // Fires after the 2 s stall limit, well before anything a user would call a hang.
  EXPECT_GE(elapsed, std::chrono::seconds(2));
  EXPECT_LT(elapsed, std::chrono::seconds(10));
  EXPECT_EQ(fs::file_size(part_path(dest)), cut);
}

TEST_F(DownloadTest, ServerThatNeverAnswersTimesOut) {
  server.add("ggml-test.bin", ServedFile{bytes, Behaviour::kSilent});
  auto t0 = std::chrono::steady_clock::now();
  auto r = download(request(), quick());
  auto elapsed = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("stalled"), std::string::npos) << r.error();
  EXPECT_LT(elapsed, std::chrono::seconds(10));
  EXPECT_FALSE(fs::exists(part_path(dest)));
}

TEST_F(DownloadTest, CancellationFromAnotherThreadStopsAStalledTransfer) {
  server.add("ggml-test.bin", ServedFile{bytes, Behaviour::kStall, 32 * 1024});
  std::atomic<bool> cancel{false};
  auto opts = quick();
  opts.stall_timeout = std::chrono::seconds(60);  // only the cancel can end this one
  opts.cancel = &cancel;
  std::atomic<bool> got_bytes{false};
  opts.on_progress = [&](const DownloadProgress& p) {
    if (p.done > 0) got_bytes.store(true);
  };
  std::thread canceller([&] {
    while (!got_bytes.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    cancel.store(true);
  });
  auto t0 = std::chrono::steady_clock::now();
  auto r = download(request(), opts);
  auto elapsed = std::chrono::steady_clock::now() - t0;
  canceller.join();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("cancelled"), std::string::npos) << r.error();
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  EXPECT_EQ(fs::file_size(part_path(dest)), 32u * 1024);  // kept for the next attempt
  EXPECT_FALSE(fs::exists(dest));
}

TEST_F(DownloadTest, UnwritableModelsDirIsReported) {
  server.add("ggml-test.bin", ServedFile{bytes});
  write_file(dir / "models", "a file where the dir should be");
  auto r = download(request(), quick());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find((dir / "models").string()), std::string::npos) << r.error();
}

}  // namespace
}  // namespace thoth::models
