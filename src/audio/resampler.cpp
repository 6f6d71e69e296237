#include "audio/resampler.h"

#include <soxr.h>

#include <cmath>
#include <utility>

namespace thoth::audio {

Result<Resampler> Resampler::create(double in_rate, double out_rate) {
  if (!(in_rate > 0) || !(out_rate > 0) || !std::isfinite(in_rate) || !std::isfinite(out_rate))
    return make_error("invalid sample rates " + std::to_string(in_rate) + " -> " +
                      std::to_string(out_rate));
  if (in_rate == out_rate) return Resampler(nullptr, in_rate, out_rate);
  soxr_error_t err = nullptr;
  soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  soxr_t h = soxr_create(in_rate, out_rate, 1, &err, &io, &quality, nullptr);
  if (!h || err) {
    if (h) soxr_delete(h);
    return make_error(std::string("cannot create resampler: ") + soxr_strerror(err));
  }
  return Resampler(h, in_rate, out_rate);
}

Resampler::Resampler(Resampler&& other) noexcept
    : soxr_(std::exchange(other.soxr_, nullptr)),
      in_rate_(other.in_rate_),
      out_rate_(other.out_rate_) {}

Resampler& Resampler::operator=(Resampler&& other) noexcept {
  if (this != &other) {
    if (soxr_) soxr_delete(soxr_);
    soxr_ = std::exchange(other.soxr_, nullptr);
    in_rate_ = other.in_rate_;
    out_rate_ = other.out_rate_;
  }
  return *this;
}

Resampler::~Resampler() {
  if (soxr_) soxr_delete(soxr_);
}

Result<void> Resampler::process(const float* in, size_t n, std::vector<float>& out) {
  if (!soxr_) {
    out.insert(out.end(), in, in + n);
    return {};
  }
  const double ratio = out_rate_ / in_rate_;
  size_t consumed = 0;
  while (consumed < n) {
    size_t room = static_cast<size_t>(std::ceil((n - consumed) * ratio)) + 64;
    size_t base = out.size();
    out.resize(base + room);
    size_t idone = 0, odone = 0;
    soxr_error_t err = soxr_process(soxr_, in + consumed, n - consumed, &idone,
                                    out.data() + base, room, &odone);
    out.resize(base + odone);
    if (err) return make_error(std::string("resampling failed: ") + err);
    consumed += idone;
    if (idone == 0 && odone == 0) break;  // cannot happen with room > 0; never spin
  }
  return {};
}

Result<void> Resampler::flush(std::vector<float>& out) {
  if (!soxr_) return {};
  for (;;) {
    size_t base = out.size();
    const size_t room = 4096;
    out.resize(base + room);
    size_t odone = 0;
    soxr_error_t err = soxr_process(soxr_, nullptr, 0, nullptr, out.data() + base, room, &odone);
    out.resize(base + odone);
    if (err) return make_error(std::string("resampling failed: ") + err);
    if (odone == 0) break;
  }
  return {};
}

Result<std::vector<float>> resample(const std::vector<float>& in, double in_rate, double out_rate) {
  auto r = Resampler::create(in_rate, out_rate);
  if (!r) return make_error(r.error());
  std::vector<float> out;
  out.reserve(static_cast<size_t>(in.size() * (out_rate / in_rate)) + 64);
  if (auto p = r->process(in.data(), in.size(), out); !p) return make_error(p.error());
  if (auto f = r->flush(out); !f) return make_error(f.error());
  return out;
}

}  // namespace thoth::audio
