// Session: audio in, Transcript out. Owns the thread pool and the network of one
// transcription and drives the decoding rules (decoding.h) over it.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "asr/decoding.h"
#include "asr/mel.h"
#include "asr/network.h"
#include "asr/thread_pool.h"
#include "asr/tokenizer.h"
#include "asr/whisper.h"

namespace thoth::asr {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

int resolve_threads(int n) {
  if (n > 0) return std::min(n, 64);
  const int hw = static_cast<int>(std::thread::hardware_concurrency());
  return std::clamp(hw, 1, 8);
}

// WhisperNetwork seen through the interface the decoding rules use, with the time spent in
// each half accounted for.
class NetworkBackend final : public DecoderBackend {
 public:
  NetworkBackend(WhisperNetwork& net, const MelSpectrogram& mel) : net_(net), mel_(mel) {}

  void encode(int seek) override {
    // Language detection and the first window both encode frame 0: the cross-attention
    // keys and values only depend on the window, so the second encode would change nothing.
    if (seek == encoded_seek_) return;
    const auto t0 = Clock::now();
    // A cancelled encode leaves no usable window behind.
    encoded_seek_ = net_.encode(mel_, seek) ? seek : -1;
    encode_ms += ms_since(t0);
  }
  void decode(std::span<const DecodeItem> items) override {
    const auto t0 = Clock::now();
    net_.decode(items);
    decode_ms += ms_since(t0);
  }
  void copy_sequence(int src, int dst, int n_tokens) override { net_.copy_sequence(src, dst, n_tokens); }
  void remove_sequence(int seq) override { net_.remove_sequence(seq); }
  void clear_cache() override { net_.clear_cache(); }

  double encode_ms = 0, decode_ms = 0;

 private:
  WhisperNetwork& net_;
  const MelSpectrogram& mel_;
  int encoded_seek_ = -1;
};

// NaN or infinite samples (a broken decoder or a bad resampler upstream) would poison the
// whole mel spectrogram through its global maximum: treat them as silence / full scale.
std::vector<float> sanitized(const float* pcm, size_t n) {
  std::vector<float> out(pcm, pcm + n);
  for (float& x : out) {
    if (std::isnan(x)) x = 0.0f;
    else if (std::isinf(x)) x = x > 0 ? 1.0f : -1.0f;
  }
  return out;
}

ModelShape shape_of(const ModelFile& f) {
  const auto& h = f.hparams();
  return ModelShape{h.n_text_ctx, h.n_audio_ctx, h.n_text_layer};
}

}  // namespace

std::string Transcript::text() const {
  std::string s;
  for (const auto& seg : segments) s += seg.text;
  return s;
}

struct Session::Impl {
  std::shared_ptr<const Model> model;
  Tokenizer tokenizer;
  std::unique_ptr<ThreadPool> pool;

  explicit Impl(std::shared_ptr<const Model> m)
      : model(std::move(m)), tokenizer(Tokenizer::from_model(*model->file())) {}

  ThreadPool& pool_for(int n_threads) {
    if (!pool || pool->size() != n_threads) {
      pool.reset();
      pool = std::make_unique<ThreadPool>(n_threads);
    }
    return *pool;
  }

  Result<DecodingOptions> decoding_options(const TranscribeOptions& o) const {
    const ModelFile& f = *model->file();
    DecodingOptions d;
    if (o.beam_size < 1) return make_error("beam size must be at least 1 (1 = greedy), got " + std::to_string(o.beam_size));
    if (o.best_of < 1) return make_error("best-of must be at least 1, got " + std::to_string(o.best_of));
    d.beam_search = o.beam_size > 1;
    d.beam_size = o.beam_size;
    d.best_of = o.best_of;
    if (WindowDecoder::sequences_needed(d) / 2 > kMaxDecoders)
      return make_error("beam size and best-of must be at most " + std::to_string(kMaxDecoders));
    d.temperature_inc = o.temperature_fallback ? o.temperature_increment : 0.0f;
    d.entropy_thold = o.entropy_threshold;
    d.logprob_thold = o.logprob_threshold;
    d.no_speech_thold = o.no_speech_threshold;
    d.no_timestamps = !o.timestamps;
    d.suppress_blank = o.suppress_blank;
    d.suppress_nst = o.suppress_non_speech_tokens;
    d.max_initial_ts = o.max_initial_timestamp;
    d.max_tokens = o.max_len_tokens;
    d.n_max_text_ctx = o.condition_on_previous_text ? 16384 : 0;
    d.seed = static_cast<uint32_t>(o.seed);
    d.cancel = o.cancel;
    if (!o.initial_prompt.empty()) d.prompt_tokens = tokenizer.encode(o.initial_prompt);

    const std::string model_name = f.path();
    if (!f.is_multilingual()) {
      if (o.language != "en" && o.language != "english" && o.language != "auto" && !o.language.empty())
        return make_error("model " + model_name + " is English-only: language '" + o.language +
                          "' needs a multilingual model (or use -l en)");
      if (o.translate) return make_error("model " + model_name + " is English-only: it cannot translate");
      d.language_id = 0;
      return d;
    }
    d.translate = o.translate;
    if (o.language == "auto" || o.language.empty()) {
      d.language_id = -1;
    } else {
      const int id = language_id(o.language);
      if (id < 0) return make_error("unknown language '" + o.language + "' (use a code such as en, de, fr, or auto)");
      if (id >= f.num_languages())
        return make_error("model " + model_name + " does not know language '" + o.language + "'");
      d.language_id = id;
    }
    return d;
  }
};

Session::Session(std::shared_ptr<const Model> model) : impl_(std::make_unique<Impl>(std::move(model))) {}
Session::~Session() = default;

Result<Transcript> Session::transcribe(const float* pcm, size_t n_samples, const TranscribeOptions& options) {
  auto dopt = impl_->decoding_options(options);
  if (!dopt) return make_error(dopt.error());
  if (n_samples > static_cast<size_t>(INT32_MAX) / 2)
    return make_error("audio too long: " + std::to_string(n_samples / 16000 / 3600) + " hours");

  const ModelFile& file = *impl_->model->file();
  Transcript tr;
  tr.timings.load_ms = impl_->model->load_ms();
  tr.language = dopt->language_id >= 0 ? std::string(language_code(dopt->language_id)) : "";

  // Fewer than 10 frames of audio: the reference decodes nothing.
  if (n_samples == 0) {
    if (options.on_progress) options.on_progress(1.0f);
    if (tr.language.empty()) {
      tr.language = "en";
      tr.language_prob = 0.0f;
    }
    return tr;
  }

  ThreadPool& pool = impl_->pool_for(resolve_threads(options.n_threads));
  const auto t_mel = Clock::now();
  const std::vector<float> audio = sanitized(pcm, n_samples);
  const MelSpectrogram mel =
      compute_mel(audio.data(), static_cast<int64_t>(audio.size()), file.mel_filters(), pool, options.cancel);
  tr.timings.mel_ms = ms_since(t_mel);
  // Relaxed: the flag carries no data.
  if (options.cancel != nullptr && options.cancel->load(std::memory_order_relaxed)) {
    tr.cancelled = true;
    if (tr.language.empty()) tr.language = "en";
    return tr;
  }

  WhisperNetwork net(impl_->model->file(), WindowDecoder::sequences_needed(*dopt), pool);
  net.set_cancel(options.cancel);
  NetworkBackend backend(net, mel);
  DecodingOptions run_opt = *dopt;
  run_opt.on_progress = options.on_progress;
  WindowDecoder decoder(backend, impl_->tokenizer, shape_of(file), run_opt, &pool);

  const auto t_dec = Clock::now();
  DecodingResult r = decoder.run(mel.n_len_org);
  const double total_ms = ms_since(t_dec);
  tr.timings.encode_ms = backend.encode_ms;
  tr.timings.decode_ms = std::max(0.0, total_ms - backend.encode_ms);

  tr.language = std::string(language_code(r.language_id));
  tr.language_prob = r.language_prob;
  tr.cancelled = r.cancelled;
  for (auto& s : r.segments) {
    Segment seg;
    seg.start_ms = s.t0 * 10;
    seg.end_ms = s.t1 * 10;
    seg.text = to_valid_utf8(s.text);
    seg.no_speech_prob = s.no_speech_prob;
    for (const auto& t : s.tokens) {
      TokenInfo ti;
      ti.id = t.id;
      ti.p = t.p;
      ti.start_ms = t.t0 * 10;
      ti.end_ms = t.t1 * 10;
      ti.text = to_valid_utf8(impl_->tokenizer.bytes(t.id));
      seg.tokens.push_back(std::move(ti));
    }
    tr.segments.push_back(std::move(seg));
  }
  if (options.on_progress && !r.cancelled) options.on_progress(1.0f);
  return tr;
}

Result<std::pair<std::string, float>> Session::detect_language(const float* pcm, size_t n_samples, int n_threads) {
  const ModelFile& file = *impl_->model->file();
  if (!file.is_multilingual()) return std::pair<std::string, float>{"en", 1.0f};
  if (n_samples < 1600) return make_error("audio too short to detect its language (under 0.1 s)");
  ThreadPool& pool = impl_->pool_for(resolve_threads(n_threads));
  const std::vector<float> audio = sanitized(pcm, n_samples);
  const MelSpectrogram mel = compute_mel(audio.data(), static_cast<int64_t>(audio.size()), file.mel_filters(), pool);
  DecodingOptions d;
  d.beam_search = false;
  d.best_of = 1;
  WhisperNetwork net(impl_->model->file(), WindowDecoder::sequences_needed(d), pool);
  NetworkBackend backend(net, mel);
  WindowDecoder decoder(backend, impl_->tokenizer, shape_of(file), d);
  std::vector<float> probs;
  const int id = decoder.detect_language(probs);
  return std::pair<std::string, float>{std::string(language_code(id)), probs[id]};
}

}  // namespace thoth::asr
