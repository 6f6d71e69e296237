#include "models/sha256.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace thoth::models {

struct Sha256::Ctx {
  EVP_MD_CTX* md = nullptr;
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  ctx_->md = EVP_MD_CTX_new();
  if (!ctx_->md) throw std::bad_alloc();
  reset();
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_->md); }

void Sha256::reset() {
  // Failure here means OpenSSL itself is broken (SHA-256 is always available): a bug, not input.
  if (EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) != 1) throw std::runtime_error("EVP_DigestInit_ex failed");
}

void Sha256::update(const void* data, std::size_t size) {
  if (size && EVP_DigestUpdate(ctx_->md, data, size) != 1) throw std::runtime_error("EVP_DigestUpdate failed");
}

std::string Sha256::finish_hex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_->md, digest, &len) != 1) throw std::runtime_error("EVP_DigestFinal_ex failed");
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 15]);
  }
  reset();
  return out;
}

Result<void> hash_file_into(Sha256& hash, const std::filesystem::path& path, std::uint64_t limit,
                            const std::atomic<bool>* cancel) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error("cannot read " + path.string() + ": " + std::strerror(errno));
  std::vector<unsigned char> buf(1 << 20);
  std::uint64_t done = 0;
  Result<void> result;
  while (done < limit) {
    // Relaxed is enough: the flag carries no data, and a late look only costs one more block.
    if (cancel && cancel->load(std::memory_order_relaxed)) {
      result = make_error("checksum of " + path.string() + " cancelled");
      break;
    }
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), limit - done));
    ssize_t n = ::read(fd, buf.data(), want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      result = make_error("cannot read " + path.string() + ": " + std::strerror(errno));
      break;
    }
    if (n == 0) {
      if (limit != UINT64_MAX)
        result = make_error(path.string() + " is shorter than expected (" + std::to_string(done) + " of " +
                            std::to_string(limit) + " bytes)");
      break;
    }
    hash.update(buf.data(), static_cast<std::size_t>(n));
    done += static_cast<std::uint64_t>(n);
  }
  ::close(fd);
  return result;
}

Result<std::string> sha256_file(const std::filesystem::path& path, const std::atomic<bool>* cancel) {
  Sha256 hash;
  auto r = hash_file_into(hash, path, UINT64_MAX, cancel);
  if (!r) return make_error(r.error());
  return hash.finish_hex();
}

}  // namespace thoth::models
