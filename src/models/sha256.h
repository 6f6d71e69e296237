// Streaming SHA-256 (OpenSSL EVP), so a download is hashed as it arrives instead of being
// read back afterwards.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "core/result.h"

namespace thoth::models {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void reset();
  void update(const void* data, std::size_t size);
  // Lowercase hex digest; the object is reset afterwards.
  std::string finish_hex();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// Feeds the first `limit` bytes of `path` (all of it when limit is UINT64_MAX) into `hash`.
// Fails naming the file when it cannot be read or is shorter than `limit`; stops with an error
// when `cancel` becomes true (a multi-GB file takes seconds).
Result<void> hash_file_into(Sha256& hash, const std::filesystem::path& path,
                            std::uint64_t limit = UINT64_MAX, const std::atomic<bool>* cancel = nullptr);

// SHA-256 of a whole file, as lowercase hex.
Result<std::string> sha256_file(const std::filesystem::path& path, const std::atomic<bool>* cancel = nullptr);

}  // namespace thoth::models
