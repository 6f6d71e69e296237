#include "models/download.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <system_error>

#include "core/version.h"
#include "models/sha256.h"

namespace thoth::models {
namespace fs = std::filesystem;

fs::path part_path(const fs::path& destination) { return fs::path(destination.string() + ".part"); }
fs::path rejected_path(const fs::path& destination) { return fs::path(destination.string() + ".bad"); }

namespace {

void curl_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string mib(std::uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

bool starts_with_nocase(const char* s, std::size_t n, const char* prefix) {
  std::size_t len = std::strlen(prefix);
  return n >= len && ::strncasecmp(s, prefix, len) == 0;
}

// Owns the part file descriptor; closes it on every path out.
struct PartFile {
  int fd = -1;
  ~PartFile() {
    if (fd >= 0) ::close(fd);
  }
};

// State shared with libcurl's callbacks for one HTTP request.
struct Transfer {
  const DownloadOptions* options = nullptr;
  int fd = -1;
  Sha256* hash = nullptr;
  std::uint64_t expected = 0;
  std::uint64_t offset = 0;          // bytes in the part file before this response's body
  std::uint64_t written = 0;         // body bytes written by this response
  std::uint64_t requested_from = 0;  // Range start asked for (0: whole file)
  std::uint64_t resumed_from = 0;
  long status = 0;                   // of the latest response (redirects included)
  long long range_start = -1;        // from its Content-Range
  bool body_started = false;
  bool restarted = false;            // the server ignored Range; the part was thrown away
  bool cancelled = false;
  bool stalled = false;
  CURL* easy = nullptr;
  std::uint64_t last_done = 0;
  std::chrono::steady_clock::time_point last_activity{};
  std::string failure;               // why a callback stopped the transfer

  std::uint64_t done() const { return offset + written; }
  bool cancel_requested() const {
    // Relaxed: the flag carries no data with it; a late look costs at most one more block.
    return options->cancel && options->cancel->load(std::memory_order_relaxed);
  }
};

std::size_t on_header(char* data, std::size_t size, std::size_t nitems, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::size_t n = size * nitems;
  if (starts_with_nocase(data, n, "HTTP/")) {
    // A new response (after a redirect, or a 100 Continue) starts over.
    std::string line(data, n);
    auto sp = line.find(' ');
    t->status = sp == std::string::npos ? 0 : std::strtol(line.c_str() + sp + 1, nullptr, 10);
    t->range_start = -1;
  } else if (starts_with_nocase(data, n, "Content-Range:")) {
    std::string value(data + 14, n - 14);
    auto bytes = value.find("bytes");
    if (bytes != std::string::npos) {
      auto pos = value.find_first_of("0123456789", bytes + 5);
      if (pos != std::string::npos) t->range_start = std::strtoll(value.c_str() + pos, nullptr, 10);
    }
  }
  return n;
}

bool write_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

std::size_t on_body(char* data, std::size_t size, std::size_t nmemb, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::size_t n = size * nmemb;
  if (t->cancel_requested()) {
    t->cancelled = true;
    return 0;
  }
  if (!t->body_started) {
    t->body_started = true;
    if (t->status == 206) {
      if (t->range_start != static_cast<long long>(t->requested_from)) {
        t->failure = "the server answered the resume request with a different range (Content-Range start " +
                     std::to_string(t->range_start) + ", asked for " + std::to_string(t->requested_from) + ")";
        return 0;
      }
    } else if (t->requested_from > 0) {
      // A server that ignores Range sends the whole file with 200: start the part over.
      if (::ftruncate(t->fd, 0) != 0 || ::lseek(t->fd, 0, SEEK_SET) != 0) {
        t->failure = std::string("cannot truncate the partial file: ") + std::strerror(errno);
        return 0;
      }
      t->hash->reset();
      t->offset = 0;
      t->resumed_from = 0;
      t->restarted = true;
    }
  }
  if (t->expected && t->done() + n > t->expected) {
    t->failure = "the server sent more than the expected " + std::to_string(t->expected) + " bytes";
    return 0;
  }
  if (!write_all(t->fd, data, n)) {
    t->failure = std::string("cannot write the partial file: ") + std::strerror(errno);
    return 0;
  }
  t->hash->update(data, n);
  t->written += n;
  return n;
}

int on_xferinfo(void* user, curl_off_t dltotal, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (t->cancel_requested()) {
    t->cancelled = true;
    return 1;  // libcurl aborts with CURLE_ABORTED_BY_CALLBACK
  }
  // Our own stall clock: libcurl's low-speed limit averages over a ~5 s window, so a burst
  // before the silence would hide a stall for several seconds longer than asked.
  auto now = std::chrono::steady_clock::now();
  curl_off_t connect_us = 0;
  curl_easy_getinfo(t->easy, CURLINFO_CONNECT_TIME_T, &connect_us);
  if (connect_us == 0 || t->done() != t->last_done) {  // connecting has its own timeout
    t->last_done = t->done();
    t->last_activity = now;
  } else if (now - t->last_activity >= t->options->stall_timeout) {
    t->stalled = true;
    return 1;
  }
  if (t->options->on_progress) {
    std::uint64_t total = t->expected;
    if (!total && dltotal > 0 && t->body_started) total = t->offset + static_cast<std::uint64_t>(dltotal);
    t->options->on_progress(DownloadProgress{t->done(), total, t->resumed_from});
  }
  return 0;
}

struct Easy {
  CURL* h = curl_easy_init();
  ~Easy() { curl_easy_cleanup(h); }
};

enum class Outcome { kDone, kRetryWhole, kFailed };

}  // namespace

Result<void> download(const DownloadRequest& request, const DownloadOptions& options) {
  curl_init_once();
  const fs::path& dest = request.destination;
  const std::string file = dest.filename().string();
  std::error_code ec;
  if (!dest.parent_path().empty()) {
    fs::create_directories(dest.parent_path(), ec);
    if (ec) return make_error("cannot create the models directory " + dest.parent_path().string() + ": " + ec.message());
  }

  const fs::path part = part_path(dest);
  PartFile pf;
  // Model files are public downloads, not user data: 0644 (subject to the umask) lets a
  // system-wide daemon or another local user share one copy instead of fetching gigabytes again.
  pf.fd = ::open(part.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (pf.fd < 0) return make_error("cannot write " + part.string() + ": " + std::strerror(errno));
  // Two pulls of one model would interleave their bytes in one part file.
  if (::flock(pf.fd, LOCK_EX | LOCK_NB) != 0)
    return make_error(file + " is already being downloaded by another thoth process (" + part.string() + " is locked)");

  auto remove_empty_part = [&] {
    struct stat st {};
    if (::fstat(pf.fd, &st) == 0 && st.st_size == 0) fs::remove(part, ec);
  };

  Sha256 hash;
  struct stat st {};
  if (::fstat(pf.fd, &st) != 0) return make_error("cannot stat " + part.string() + ": " + std::strerror(errno));
  std::uint64_t have = static_cast<std::uint64_t>(st.st_size);
  if (request.expected_bytes && have > request.expected_bytes) have = 0;  // not a prefix of this file
  if (have > 0) {
    // Resuming: the digest must cover the bytes already on disk.
    auto r = hash_file_into(hash, part, have, options.cancel);
    if (!r) return make_error(r.error());
  }
  if (::ftruncate(pf.fd, static_cast<off_t>(have)) != 0 || ::lseek(pf.fd, static_cast<off_t>(have), SEEK_SET) < 0)
    return make_error("cannot write " + part.string() + ": " + std::strerror(errno));

  Transfer t;
  t.options = &options;
  t.fd = pf.fd;
  t.hash = &hash;
  t.expected = request.expected_bytes;
  t.offset = have;

  for (int attempt = 0; attempt < 2; ++attempt) {
    std::uint64_t from = t.done();
    if (t.expected && from == t.expected) break;  // the part is complete already: just verify it
    t.offset = from;
    t.written = 0;
    t.requested_from = from;
    t.resumed_from = from;
    t.status = 0;
    t.range_start = -1;
    t.body_started = false;

    Easy easy;
    if (!easy.h) return make_error("cannot start libcurl");
    t.easy = easy.h;
    t.last_done = from;
    t.last_activity = std::chrono::steady_clock::now();
    char errbuf[CURL_ERROR_SIZE] = {0};
    std::string user_agent = std::string("thoth/") + version_string();
    std::string range = std::to_string(from) + "-";
    curl_easy_setopt(easy.h, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(easy.h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy.h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy.h, CURLOPT_FOLLOWLOCATION, 1L);  // the hub redirects to its CDN
    curl_easy_setopt(easy.h, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(easy.h, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(easy.h, CURLOPT_NOSIGNAL, 1L);  // may run on any thread
    curl_easy_setopt(easy.h, CURLOPT_USERAGENT, user_agent.c_str());
    curl_easy_setopt(easy.h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(easy.h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()));
    curl_easy_setopt(easy.h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy.h, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(easy.h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy.h, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(easy.h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(easy.h, CURLOPT_XFERINFOFUNCTION, on_xferinfo);
    curl_easy_setopt(easy.h, CURLOPT_XFERINFODATA, &t);
    if (from > 0) curl_easy_setopt(easy.h, CURLOPT_RANGE, range.c_str());

    CURLcode rc = curl_easy_perform(easy.h);
    long http = 0;
    curl_easy_getinfo(easy.h, CURLINFO_RESPONSE_CODE, &http);
    const std::string kept = " (" + mib(t.done()) + " kept in " + part.string() + "; run the same command again to resume)";
    const std::string detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);

    if (t.stalled) {
      remove_empty_part();
      return make_error("download of " + file + " stalled: no data for " +
                        std::to_string(options.stall_timeout.count()) + " s from " + request.url +
                        (t.done() ? kept : ""));
    }
    if (t.cancelled || rc == CURLE_ABORTED_BY_CALLBACK) {
      remove_empty_part();
      return make_error("download of " + file + " cancelled" + (t.done() ? kept : ""));
    }
    if (!t.failure.empty()) {
      remove_empty_part();
      return make_error("download of " + file + " from " + request.url + " failed: " + t.failure);
    }
    if (rc == CURLE_HTTP_RETURNED_ERROR && http == 416 && from > 0 && attempt == 0) {
      // The part does not fit the file on the server (it changed, or the part is too long).
      if (::ftruncate(pf.fd, 0) != 0 || ::lseek(pf.fd, 0, SEEK_SET) != 0)
        return make_error("cannot truncate " + part.string() + ": " + std::strerror(errno));
      hash.reset();
      t.offset = 0;
      t.written = 0;
      continue;
    }
    if (rc != CURLE_OK) {
      remove_empty_part();
      switch (rc) {
        case CURLE_HTTP_RETURNED_ERROR:
          if (http == 404)
            return make_error(file + " not found at " + request.url +
                              " (HTTP 404); check the model name, or THOTH_MODEL_BASE_URL if set");
          return make_error("the server refused " + request.url + " (HTTP " + std::to_string(http) + ")" +
                            (http >= 500 ? "; try again later" : ""));
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
          return make_error("cannot resolve the host of " + request.url + " (" + detail +
                            "); check the network connection, or THOTH_MODEL_BASE_URL if set");
        case CURLE_COULDNT_CONNECT:
          return make_error("cannot connect to the server of " + request.url + " (" + detail +
                            "); check the network connection, or THOTH_MODEL_BASE_URL if set");
        case CURLE_OPERATION_TIMEDOUT: {
          double connect_time = 0;
          curl_easy_getinfo(easy.h, CURLINFO_CONNECT_TIME, &connect_time);
          if (connect_time <= 0 && http == 0)
            return make_error("no answer from the server of " + request.url + " within " +
                              std::to_string(options.connect_timeout.count()) + " ms; check the network connection");
          return make_error("download of " + file + " from " + request.url + " timed out (" + detail + ")" +
                            (t.done() ? kept : ""));
        }
        case CURLE_PARTIAL_FILE:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_SEND_ERROR:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
          return make_error("the connection dropped during the download of " + file + " (" + detail + ")" +
                            (t.done() ? kept : ""));
        default:
          return make_error("download of " + file + " from " + request.url + " failed: " + detail +
                            (t.done() ? kept : ""));
      }
    }
    break;
  }

  const std::uint64_t total = t.done();
  if (request.expected_bytes && total < request.expected_bytes)
    return make_error("the server ended the transfer of " + file + " early (" + std::to_string(total) + " of " +
                      std::to_string(request.expected_bytes) + " bytes" + "; kept in " + part.string() +
                      "; run the same command again to resume)");
  if (::fsync(pf.fd) != 0) return make_error("cannot write " + part.string() + ": " + std::strerror(errno));
  if (options.on_progress) options.on_progress(DownloadProgress{total, total, t.resumed_from});

  std::string digest = hash.finish_hex();
  if (!request.expected_sha256.empty() && digest != request.expected_sha256) {
    fs::path bad = rejected_path(dest);
    fs::rename(part, bad, ec);
    std::string where = ec ? "could not be kept aside (" + ec.message() + ") and stays as " + part.string()
                           : "kept aside as " + bad.string();
    return make_error(file + " failed its checksum (SHA-256 " + digest + ", expected " + request.expected_sha256 +
                      "): refused, " + where + "; delete it and pull again, or check THOTH_MODEL_BASE_URL if set");
  }
  // rename() within one directory is atomic: readers see no file or the whole verified file.
  fs::rename(part, dest, ec);
  if (ec) return make_error("cannot move " + part.string() + " to " + dest.string() + ": " + ec.message());
  int dir = ::open(dest.parent_path().empty() ? "." : dest.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);  // make the rename itself durable
    ::close(dir);
  }
  return {};
}

}  // namespace thoth::models
