#include "asr/decoding.h"

#include "asr/expf_flush.h"
#include "asr/matmul.h"
#include "asr/thread_pool.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <map>

namespace thoth::asr {

namespace {

constexpr int kChunkSeconds = 30;                 // WHISPER_CHUNK_SIZE
constexpr int kWindowFrames = 100 * kChunkSeconds;  // seek_delta of a whole window (cs)
constexpr int kDeltaMin = 10;                     // windows shorter than 100 ms are not decoded

// openai/whisper tokenizer.py non_speech_tokens, as the reference lists them.
const char* const kNonSpeech[] = {
    "\"", "#", "(", ")", "*", "+", "/", ":", ";", "<", "=", ">", "@", "[", "\\", "]", "^",
    "_", "`", "{", "|", "}", "~", "「", "」", "『", "』", "<<", ">>", "<<<", ">>>", "--",
    "---", "-(", "-[", "('", "(\"", "((", "))", "(((", ")))", "[[", "]]", "{{", "}}", "♪♪",
    "♪♪♪", "♩", "♪", "♫", "♬", "♭", "♮", "♯"};

}  // namespace

// max_element keeps its first element if that is a NaN, else the greatest of the others that
// are not: so do the chains, all started from the first (a NaN then stays), skipping NaNs.
// Equal values are the same bits, except +0 and -0, of which max_element keeps the first: a
// zero maximum is left to it.
float max_value(const float* p, int64_t n) {
  constexpr int kChains = 8;
  if (n < 2 * kChains) return *std::max_element(p, p + n);
  float acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = p[0];
  int64_t i = 1;
  for (; i + kChains <= n; i += kChains)
    for (int c = 0; c < kChains; ++c) acc[c] = acc[c] < p[i + c] ? p[i + c] : acc[c];
  for (; i < n; ++i) acc[0] = acc[0] < p[i] ? p[i] : acc[0];
  float m = acc[0];
  for (int c = 1; c < kChains; ++c) m = m < acc[c] ? acc[c] : m;
  return m == 0.0f ? *std::max_element(p, p + n) : m;
}

void compute_logprobs(const std::vector<float>& logits, int n_logits, std::vector<float>& logprobs) {
  compute_logprobs(logits.data(), n_logits, max_value(logits.data(), static_cast<int64_t>(logits.size())), logprobs.data());
}

// The exponentials (libm's bits) all at once, vectorised; the sum then in the reference's order.
void compute_logprobs(const float* logits, int n_logits, float logit_max, float* logprobs) {
  thread_local std::vector<float> e;
  e.resize(static_cast<size_t>(std::max(n_logits, 0)));
  libm_expf_shifted(logits, logit_max, e.data(), n_logits);
  float logsumexp = 0.0f;
  for (int i = 0; i < n_logits; ++i)
    if (logits[i] > -INFINITY) logsumexp += e[i];
  logsumexp = logf(logsumexp) + logit_max;
  for (int i = 0; i < n_logits; ++i)
    logprobs[i] = logits[i] > -INFINITY ? logits[i] - logsumexp : -INFINITY;
}

void compute_probs(int n_logits, const std::vector<float>& logprobs, std::vector<float>& probs) {
  libm_expf_shifted(logprobs.data(), 0.0f, probs.data(), n_logits);
}

LogitFilterContext make_logit_filter_context(const Tokenizer& tok, const DecodingOptions& options,
                                             int n_audio_ctx) {
  LogitFilterContext ctx;
  ctx.tokenizer = &tok;
  ctx.options = &options;
  ctx.n_audio_ctx = n_audio_ctx;
  ctx.blank_id = tok.find(" ");
  if (options.suppress_nst) {
    for (const char* t : kNonSpeech) {
      std::string spaced(" ");
      spaced += t;
      for (std::string_view s : {std::string_view(t), std::string_view(spaced)}) {
        const int32_t id = tok.find(s);
        if (id >= 0) ctx.non_speech_ids.push_back(id);
      }
    }
    // Hyphens and apostrophes stay allowed inside words, not at their start.
    for (const char* s : {" -", " '"}) {
      const int32_t id = tok.find(s);
      if (id >= 0) ctx.non_speech_ids.push_back(id);
    }
  }
  return ctx;
}

void process_logits(const LogitFilterContext& ctx, const float* raw, std::span<const TokenData> tokens,
                    bool has_ts, int seek_delta, float temperature, DecoderLogits& out) {
  const Tokenizer& tok = *ctx.tokenizer;
  const DecodingOptions& opt = *ctx.options;
  const SpecialTokens& sp = tok.special();
  const int n_logits = tok.n_vocab();
  const bool is_initial = tokens.empty();

  auto& logits = out.logits;
  auto& logprobs = out.logprobs;
  auto& probs = out.probs;
  logits.assign(raw, raw + n_logits);
  if (temperature > 0.0f)
    for (int i = 0; i < n_logits; ++i) logits[i] /= temperature;
  logprobs.resize(n_logits);
  probs.resize(n_logits);

  auto suppress = [&](int32_t id) {
    if (id >= 0 && id < n_logits) logits[id] = -INFINITY;
  };

  if (opt.suppress_blank && is_initial) {
    suppress(sp.eot);
    suppress(ctx.blank_id);
  }
  suppress(sp.not_timestamps);
  if (opt.no_timestamps)
    for (int i = sp.timestamp_begin; i < n_logits; ++i) logits[i] = -INFINITY;
  suppress(sp.sot);
  suppress(sp.nosp);
  suppress(sp.solm);  // speaker-turn token: tinydiarize is not supported
  suppress(sp.translate);
  suppress(sp.transcribe);
  suppress(sp.prev);
  // All 100 entries of the language table, whatever the model holds, as the reference does.
  for (size_t i = 0; i < languages().size(); ++i) suppress(tok.language_token(static_cast<int>(i)));
  for (int32_t id : ctx.non_speech_ids) suppress(id);

  // Timestamps come in pairs, except directly before the end of text.
  {
    const size_t n = tokens.size();
    const bool last_was_timestamp = n > 0 && tokens[n - 1].id >= sp.timestamp_begin;
    const bool penultimate_was_timestamp = n < 2 || tokens[n - 2].id >= sp.timestamp_begin;
    if (last_was_timestamp) {
      if (penultimate_was_timestamp) {
        for (int i = sp.timestamp_begin; i < n_logits; ++i) logits[i] = -INFINITY;
      } else {
        for (int i = 0; i < sp.eot; ++i) logits[i] = -INFINITY;
      }
    }
  }

  // The first timestamp may not be later than max_initial_ts.
  if (is_initial && opt.max_initial_ts > 0.0f) {
    const float precision = float(kChunkSeconds) / ctx.n_audio_ctx;
    const int tid0 = static_cast<int>(std::round(opt.max_initial_ts / precision));
    for (int i = sp.timestamp_begin + tid0 + 1; i < n_logits; ++i) logits[i] = -INFINITY;
  }

  // Timestamps never go back.
  if (has_ts) {
    const int tid0 = seek_delta / 2;
    for (int i = sp.timestamp_begin; i < sp.timestamp_begin + tid0 && i < n_logits; ++i) logits[i] = -INFINITY;
  }

  compute_logprobs(logits, n_logits, logprobs);

  // When the timestamps together are likelier than any single text token, take a timestamp.
  {
    float timestamp_logprob = -INFINITY;
    {
      float logsumexp = 0.0f;
      const float logprob_max = max_value(logprobs.data() + sp.timestamp_begin, n_logits - sp.timestamp_begin);
      for (int i = sp.timestamp_begin; i < n_logits; ++i)
        if (logprobs[i] > -INFINITY) logsumexp += expf_flush(logprobs[i] - logprob_max);
      if (logsumexp > 0.0f) timestamp_logprob = logf(logsumexp) + logprob_max;
    }
    const float max_text_token_logprob = max_value(logprobs.data(), sp.timestamp_begin);
    if (timestamp_logprob > max_text_token_logprob) {
      for (int i = 0; i < sp.timestamp_begin; ++i) {
        logits[i] = -INFINITY;
        logprobs[i] = -INFINITY;
      }
    }
  }

  compute_probs(n_logits, logprobs, probs);
}

namespace {
// The timestamp companion of a step: the likeliest timestamp and the timestamps' total mass.
void timestamp_stats(const DecoderLogits& d, int32_t token_beg, int32_t& tid, float& pt, float& ptsum) {
  const auto& probs = d.probs;
  const int n = static_cast<int>(probs.size());
  double sum_ts = 0.0, max_ts = 0.0;
  for (int i = token_beg; i < n; ++i) {
    if (probs[i] == -INFINITY) continue;
    sum_ts += probs[i];
    if (max_ts < probs[i]) {
      max_ts = probs[i];
      tid = i;
    }
  }
  pt = static_cast<float>(max_ts / (sum_ts + 1e-10));
  ptsum = static_cast<float>(sum_ts);
}
}  // namespace

TokenData sample_token(const DecoderLogits& d, int32_t token_beg, bool best, std::mt19937& rng) {
  TokenData r;
  timestamp_stats(d, token_beg, r.tid, r.pt, r.ptsum);
  const auto& probs = d.probs;
  if (best) {
    for (int i = 0; i < static_cast<int>(probs.size()); ++i) {
      if (r.p < probs[i]) {
        r.id = i;
        r.p = probs[i];
        r.plog = d.logprobs[i];
      }
    }
  } else {
    std::discrete_distribution<> dist(probs.begin(), probs.end());
    r.id = dist(rng);
    r.p = probs[r.id];
    r.plog = d.logprobs[r.id];
  }
  if (r.id >= token_beg) {
    r.tid = r.id;
    r.pt = r.p;
  }
  return r;
}

std::vector<TokenData> sample_token_topk(const DecoderLogits& d, int32_t token_beg, int k, std::mt19937& rng) {
  int32_t tid = token_beg;
  float pt = 0, ptsum = 0;
  timestamp_stats(d, token_beg, tid, pt, ptsum);
  std::discrete_distribution<> dist(d.probs.begin(), d.probs.end());
  std::vector<TokenData> result;
  result.reserve(k);
  for (int i = 0; i < k; ++i) {
    const int id = dist(rng);
    TokenData t{id, tid, d.probs[id], d.logprobs[id], pt, ptsum};
    if (t.id >= token_beg) {
      t.tid = t.id;
      t.pt = t.p;
    }
    result.push_back(t);
  }
  return result;
}

void score_sequence(Sequence& seq, float length_penalty) {
  if (seq.result_len == 0) return;
  double result = 0.0;
  for (int i = 0; i < seq.result_len; ++i) result += seq.tokens[i].plog;
  seq.sum_logprobs = result;
  seq.avg_logprobs = result / seq.result_len;
  double penalty = seq.result_len;
  if (length_penalty > 0.0f) penalty = std::pow((5.0 + penalty) / 6.0, length_penalty);
  seq.score = result / penalty;

  const int n = 32;
  int cnt = 0;
  double entropy = 0.0;
  std::map<int32_t, int> counts;
  for (int i = std::max(0, seq.result_len - n); i < seq.result_len; ++i) {
    counts[seq.tokens[i].id]++;
    cnt++;
  }
  for (const auto& kv : counts) {
    const double p = kv.second / static_cast<double>(cnt);
    entropy -= p * std::log(p);
  }
  seq.entropy = entropy;
}

bool same_tokens(const Sequence& a, const Sequence& b) {
  if (a.tokens.size() != b.tokens.size()) return false;
  for (int i = static_cast<int>(a.tokens.size()) - 1; i >= 0; --i)
    if (a.tokens[i].id != b.tokens[i].id) return false;
  return true;
}

std::vector<size_t> assign_beams(std::vector<BeamCandidate>& candidates, const std::vector<int>& running, int step) {
  std::sort(candidates.begin(), candidates.end(), [](const BeamCandidate& a, const BeamCandidate& b) {
    if (a.sequence.sum_logprobs_all != b.sequence.sum_logprobs_all)
      return a.sequence.sum_logprobs_all > b.sequence.sum_logprobs_all;
    return a.decoder < b.decoder;
  });
  std::vector<size_t> taken;
  size_t cur_c = 0;
  for (size_t r = 0; r < running.size(); ++r) {
    if (cur_c >= candidates.size()) cur_c = 0;
    const size_t cur = cur_c++;
    while (candidates.size() > cur_c && step > 0 && same_tokens(candidates[cur_c].sequence, candidates[cur].sequence))
      ++cur_c;
    taken.push_back(cur);
  }
  return taken;
}

std::vector<DecodedSegment> split_segments(const Tokenizer& tok, std::span<const TokenData> tokens, int seek,
                                           int seek_delta, bool single_segment, float no_speech_prob) {
  std::vector<DecodedSegment> out;
  if (tokens.empty()) return out;
  const int32_t beg = tok.special().timestamp_begin;
  const int32_t eot = tok.special().eot;
  const int n = static_cast<int>(tokens.size());
  int i0 = 0;
  int64_t t0 = seek + 2 * (tokens.front().tid - beg);
  std::string text;
  for (int i = 0; i < n; ++i) {
    if (tokens[i].id < eot) text += tok.bytes(tokens[i].id);
    if (tokens[i].id > beg && !single_segment) {
      const int64_t t1 = seek + 2 * (tokens[i].tid - beg);
      if (!text.empty()) {
        DecodedSegment s{t0, t1, text, {}, no_speech_prob};
        for (int j = i0; j <= i; ++j) s.tokens.push_back(tokens[j]);
        out.push_back(std::move(s));
      }
      text.clear();
      while (i < n && tokens[i].id > beg) ++i;
      --i;
      // The next segment opens at the last timestamp of this run (a pause between segments
      // stays a gap), as the reference's transcripts show; older releases used t1.
      t0 = seek + 2 * (tokens[i].tid - beg);
      i0 = i + 1;
    }
  }
  if (!text.empty()) {
    DecodedSegment s{t0, seek + seek_delta, text, {}, no_speech_prob};
    for (int j = i0; j < n; ++j) s.tokens.push_back(tokens[j]);
    out.push_back(std::move(s));
  }
  return out;
}

namespace {

// The reference's stand-in for how long a token takes to say: punctuation and digits are slow.
float voice_length(std::string_view text) {
  float len = 0.0f;
  for (const char c : text) {
    if (c == ' ') len += 0.01f;
    else if (c == ',') len += 2.0f;
    else if (c == '.' || c == '!' || c == '?') len += 3.0f;
    else if (c >= '0' && c <= '9') len += 3.0f;
    else len += 1.0f;
  }
  return len;
}

}  // namespace

void token_times(const Tokenizer& tok, int seek, DecodedSegment& segment, float thold_pt, float thold_ptsum) {
  auto& t = segment.tokens;
  const int n = static_cast<int>(t.size());
  if (n == 0) return;
  const int64_t t0 = segment.t0, t1 = segment.t1;
  for (auto& x : t) x.t0 = x.t1 = -1;
  if (n == 1) {
    t[0].t0 = t0;
    t[0].t1 = t1;
    return;
  }
  const int32_t beg = tok.special().timestamp_begin;
  t[0].t0 = t0;
  int32_t tid_last = beg;
  std::vector<float> vlen(n);
  for (int j = 0; j < n; ++j) {
    vlen[j] = voice_length(tok.bytes(t[j].id));
    const int64_t tt = seek + 2 * static_cast<int64_t>(t[j].tid - beg);
    if (t[j].pt > thold_pt && t[j].ptsum > thold_ptsum && t[j].tid > tid_last && tt >= t0 && tt <= t1) {
      if (j > 0) t[j - 1].t1 = tt;
      t[j].t0 = tt;
      tid_last = t[j].tid;
    }
  }
  t[n - 2].t1 = t1;
  t[n - 1].t0 = t[n - 1].t1 = t1;

  // Runs of tokens without an end: split the run's span by voice length.
  for (int p0 = 0; p0 < n;) {
    int p1 = p0;
    while (p1 < n && t[p1].t1 < 0) ++p1;
    if (p1 >= n) p1 = n - 1;
    if (p1 > p0 && t[p0].t0 >= 0) {
      double psum = 0.0;
      for (int j = p0; j <= p1; ++j) psum += vlen[j];
      const double dt = static_cast<double>(t[p1].t1 - t[p0].t0);
      for (int j = p0 + 1; j <= p1; ++j) {
        const int64_t ct = psum > 0 ? t[j - 1].t0 + static_cast<int64_t>(dt * vlen[j - 1] / psum) : t[j - 1].t0;
        t[j - 1].t1 = ct;
        t[j].t0 = ct;
      }
    }
    p0 = p1 + 1;
  }

  // Spans are ordered and inside the segment.
  for (int j = 0; j < n; ++j) {
    if (j > 0 && (t[j].t0 < 0 || t[j].t0 < t[j - 1].t1)) t[j].t0 = t[j - 1].t1;
    t[j].t0 = std::clamp(t[j].t0 < 0 ? t0 : t[j].t0, t0, t1);
    t[j].t1 = std::clamp(std::max(t[j].t1, t[j].t0), t[j].t0, t1);
  }
}

int window_advance(std::span<const TokenData> tokens, int32_t token_beg, int seek, int seek_end, int seek_delta) {
  const size_t n = tokens.size();
  const bool single_timestamp_ending = n > 1 && tokens[n - 2].id < token_beg && tokens[n - 1].id > token_beg;
  if (single_timestamp_ending) seek_delta = std::min(seek_end - seek, kWindowFrames);
  return seek_delta;
}

int detect_language_from_logits(const Tokenizer& tok, const float* logits, std::vector<float>& probs) {
  std::vector<std::pair<double, int>> logits_id;
  for (int id : language_ids_by_code()) logits_id.emplace_back(logits[tok.language_token(id)], id);
  std::sort(logits_id.begin(), logits_id.end(),
            [](const std::pair<double, int>& a, const std::pair<double, int>& b) { return a.first > b.first; });
  const double max = logits_id[0].first;
  double sum = 0.0;
  for (auto& kv : logits_id) {
    kv.first = std::exp(kv.first - max);
    sum += kv.first;
  }
  for (auto& kv : logits_id) kv.first /= sum;
  probs.assign(languages().size(), 0.0f);
  for (const auto& kv : logits_id) probs[kv.second] = static_cast<float>(kv.first);
  return logits_id[0].second;
}

// ---------------------------------------------------------------------------------------------

WindowDecoder::WindowDecoder(DecoderBackend& backend, const Tokenizer& tokenizer, const ModelShape& shape,
                             const DecodingOptions& options, ThreadPool* pool)
    : backend_(backend), pool_(pool), tok_(tokenizer), shape_(shape), opt_(options) {
  filter_ = make_logit_filter_context(tok_, opt_, shape_.n_audio_ctx);
}

int WindowDecoder::sequences_needed(const DecodingOptions& o) {
  const int n = o.beam_search ? std::max(o.best_of, o.beam_size) : o.best_of;
  return 2 * std::max(1, n);
}

void WindowDecoder::for_each_running(int n, const std::function<void(int)>& fn) {
  int running = 0;
  for (int j = 0; j < n; ++j) running += !(decoders_[j].completed || decoders_[j].failed);
  if (!pool_ || pool_->size() < 2 || running < 2) {
    for (int j = 0; j < n; ++j)
      if (!decoders_[j].completed && !decoders_[j].failed) fn(j);
    return;
  }
  // Each decoder's state (logits, sequence, generator) is touched by one thread only.
  const int stride = pool_->size();
  pool_->run([&](int t) {
    for (int j = t; j < n; j += stride)
      if (!decoders_[j].completed && !decoders_[j].failed) fn(j);
  });
}

bool WindowDecoder::cancelled() const {
  // Relaxed: the flag carries no data with it; we only need to see it soon.
  return opt_.cancel && opt_.cancel->load(std::memory_order_relaxed);
}

void WindowDecoder::decode_batch(std::vector<DecodeItem>& items, const std::vector<int>& rows, int n_rows) {
  const size_t n_vocab = tok_.n_vocab();
  batch_logits_.resize(items.size() * n_vocab);
  for (size_t r = 0; r < items.size(); ++r) items[r].logits = batch_logits_.data() + r * n_vocab;
  backend_.decode(items);

  if (row_max_.empty()) row0_.assign(n_vocab, 0.0f);
  row_max_.resize(n_rows, 0.0f);
  for (size_t r = 0; r < items.size(); ++r) {
    const float* l = items[r].logits;
    row_max_[rows[r]] = max_value(l, n_vocab);
    if (rows[r] == 0) row0_.assign(l, l + n_vocab);
  }
}

float WindowDecoder::no_speech_probability() const {
  const int n_vocab = tok_.n_vocab();
  const float max_all = *std::max_element(row_max_.begin(), row_max_.end());
  std::vector<float> logprobs(n_vocab);
  compute_logprobs(row0_.data(), n_vocab, max_all, logprobs.data());
  const int32_t nosp = tok_.special().nosp;
  return row0_[nosp] == -INFINITY ? 0.0f : expf_flush(logprobs[nosp]);
}

int WindowDecoder::detect_language(std::vector<float>& probs) {
  backend_.encode(0);
  const int32_t sot = tok_.special().sot;
  std::vector<DecodeItem> items{{0, &sot, 1, 0, nullptr}};
  decode_batch(items, {0}, 1);
  return detect_language_from_logits(tok_, batch_logits_.data(), probs);
}

DecodingResult WindowDecoder::run(int seek_end) {
  DecodingResult result;
  result.language_id = opt_.language_id;
  const SpecialTokens& sp = tok_.special();
  const int n_vocab = tok_.n_vocab();

  if (opt_.language_id < 0) {
    if (seek_end <= 0) {
      result.language_id = 0;
      result.language_prob = 0.0f;
      return result;
    }
    std::vector<float> probs;
    result.language_id = detect_language(probs);
    result.language_prob = probs[result.language_id];
    if (cancelled()) {
      result.cancelled = true;
      return result;
    }
  }

  const int seek_start = 0;
  if (seek_end < seek_start + kDeltaMin) return result;

  std::vector<float> temperatures;
  if (opt_.temperature_inc > 0.0f) {
    for (float t = opt_.temperature; t < 1.0f + 1e-6f; t += opt_.temperature_inc) temperatures.push_back(t);
  } else {
    temperatures.push_back(opt_.temperature);
  }

  const int n_decoders = sequences_needed(opt_) / 2;
  const int staging = n_decoders;  // sequences staging..2*n_decoders-1 hold the beam shuffle
  decoders_.assign(n_decoders, Decoder{});
  for (int j = 0; j < n_decoders; ++j) decoders_[j].rng = std::mt19937(opt_.seed + j);

  std::vector<int32_t> prompt_past = opt_.prompt_tokens;

  std::vector<int32_t> prompt_init = {sp.sot};
  if (tok_.multilingual()) {
    prompt_init.push_back(tok_.language_token(result.language_id));
    prompt_init.push_back(opt_.translate ? sp.translate : sp.transcribe);
  }
  // First-release distilled models need <|notimestamps|>.
  const bool is_distil = shape_.n_text_layer == 2 && n_vocab != 51866;
  if (is_distil) opt_.no_timestamps = true;
  if (opt_.no_timestamps) prompt_init.push_back(sp.not_timestamps);

  int seek = seek_start;
  std::vector<int32_t> prompt;
  std::vector<std::vector<BeamCandidate>> bc_per_dec(n_decoders);
  std::vector<BeamCandidate> beam_candidates;
  std::vector<DecodeItem> items;
  std::vector<int> rows;
  const int n_max = shape_.n_text_ctx / 2 - 4;

  while (true) {
    if (opt_.on_progress) opt_.on_progress(static_cast<float>(seek - seek_start) / (seek_end - seek_start));
    if (seek + kDeltaMin >= seek_end) break;
    if (cancelled()) {
      result.cancelled = true;
      return result;
    }

    backend_.encode(seek);
    if (cancelled()) {  // the encoder stops midway on cancel: nothing to decode from
      result.cancelled = true;
      return result;
    }

    // A very short tail is decoded without the past text, which tends to make it hallucinate.
    if (seek > seek_start && seek + 500 >= seek_end) prompt_past.clear();

    int best_decoder_id = 0;
    float no_speech_prob = 0.0f;

    for (size_t it = 0; it < temperatures.size(); ++it) {
      const float t_cur = temperatures[it];
      int n_decoders_cur = 1;
      if (opt_.beam_search) {
        n_decoders_cur = t_cur > 0.0f ? opt_.best_of : opt_.beam_size;
      } else if (t_cur > 0.0f) {
        n_decoders_cur = opt_.best_of;
      }
      n_decoders_cur = std::max(1, n_decoders_cur);

      for (int j = 0; j < n_decoders_cur; ++j) {
        auto& d = decoders_[j];
        d.sequence = Sequence{};
        d.seek_delta = kWindowFrames;
        d.failed = d.completed = d.has_ts = false;
      }

      // The prompt: previous text (when sampling cold enough), then sot, language, task.
      prompt.clear();
      if (!prompt_past.empty() && t_cur < 0.5f && opt_.n_max_text_ctx > 0) {
        const int n_take = std::min(std::min(opt_.n_max_text_ctx, shape_.n_text_ctx / 2),
                                    static_cast<int>(prompt_past.size()));
        prompt = {sp.prev};
        prompt.insert(prompt.end(), prompt_past.end() - n_take, prompt_past.end());
      }
      prompt.insert(prompt.end(), prompt_init.begin(), prompt_init.end());

      if (cancelled()) {
        result.cancelled = true;
        return result;
      }
      backend_.clear_cache();
      items.assign(1, DecodeItem{0, prompt.data(), static_cast<int>(prompt.size()), 0, nullptr});
      const int last_row = static_cast<int>(prompt.size()) - 1;
      decode_batch(items, {last_row}, last_row + 1);
      if (cancelled()) {
        result.cancelled = true;
        return result;
      }

      // The no-speech probability from the unfiltered logits of the buffer's first row, exactly
      // as the reference computes it (for a multi-token prompt that row is not the last
      // token's: it holds whatever an earlier decode left there).
      no_speech_prob = no_speech_probability();

      decoders_[0].i_batch = 0;
      process_logits(filter_, batch_logits_.data(), {}, false, decoders_[0].seek_delta, t_cur, decoders_[0].d);
      for (int j = 1; j < n_decoders_cur; ++j) {
        backend_.copy_sequence(0, j, static_cast<int>(prompt.size()));
        decoders_[j].d = decoders_[0].d;
      }

      for (int i = 0; i < n_max; ++i) {
        if (opt_.beam_search)
          for (auto& bc : bc_per_dec) bc.clear();

        for_each_running(n_decoders_cur, [&](int j) {
          auto& d = decoders_[j];
          if (!opt_.beam_search) {
            d.sequence.tokens.push_back(sample_token(d.d, sp.timestamp_begin, t_cur < 1e-6f, d.rng));
            d.sequence.sum_logprobs_all += d.sequence.tokens.back().plog;
          } else {
            for (const auto& token : sample_token_topk(d.d, sp.timestamp_begin, opt_.beam_size, d.rng)) {
              bc_per_dec[j].push_back({j, d.seek_delta, d.has_ts, d.sequence});
              bc_per_dec[j].back().sequence.tokens.push_back(token);
              bc_per_dec[j].back().sequence.sum_logprobs_all += token.plog;
            }
          }
        });

        if (opt_.beam_search) {
          beam_candidates.clear();
          for (auto& bc : bc_per_dec) std::move(bc.begin(), bc.end(), std::back_inserter(beam_candidates));
          std::vector<int> running;
          for (int j = 0; j < n_decoders_cur; ++j)
            if (!decoders_[j].completed && !decoders_[j].failed) running.push_back(j);
          const auto taken = assign_beams(beam_candidates, running, i);
          const int n_cached = static_cast<int>(prompt.size()) + i;
          for (size_t r = 0; r < running.size(); ++r) {
            const int j = running[r];
            auto& d = decoders_[j];
            auto& cur = beam_candidates[taken[r]];
            d.seek_delta = cur.seek_delta;
            d.has_ts = cur.has_ts;
            d.sequence = cur.sequence;
            backend_.copy_sequence(cur.decoder, staging + j, n_cached);
          }
          for (const int j : running) {
            backend_.copy_sequence(staging + j, j, n_cached);
            backend_.remove_sequence(staging + j);
          }
        }

        // Completion, failure and the window shift from the timestamps.
        for (int j = 0; j < n_decoders_cur; ++j) {
          auto& d = decoders_[j];
          if (d.completed || d.failed) continue;
          auto& result_len = d.sequence.result_len;
          const auto& token = d.sequence.tokens.back();
          if (token.id > sp.timestamp_begin) {
            const int seek_delta_new = 2 * (token.id - sp.timestamp_begin);
            if (d.has_ts && d.seek_delta > seek_delta_new && result_len < i) {
              d.failed = true;  // going back in time
              continue;
            }
            d.seek_delta = seek_delta_new;
            result_len = i + 1;
            d.has_ts = true;
          }
          if (token.id == sp.eot || (opt_.max_tokens > 0 && i >= opt_.max_tokens) ||
              (d.has_ts && seek + d.seek_delta + kDeltaMin >= seek_end)) {
            if (result_len == 0 && !opt_.no_timestamps) {
              if (seek + d.seek_delta + kDeltaMin >= seek_end) {
                result_len = i + 1;
              } else {
                d.failed = true;
                continue;
              }
            }
            if (opt_.single_segment || opt_.no_timestamps) {
              result_len = i + 1;
              d.seek_delta = kWindowFrames;
            }
            d.completed = true;
            continue;
          }
          // A decoder stuck in a repetition loop fails, and the next temperature takes over.
          if (i == n_max - 1 && (result_len == 0 || d.seek_delta < kWindowFrames / 2)) d.failed = true;
        }

        bool completed_all = true;
        for (int j = 0; j < n_decoders_cur; ++j)
          if (!decoders_[j].completed && !decoders_[j].failed) completed_all = false;
        if (completed_all) break;

        if (cancelled()) {
          result.cancelled = true;
          return result;
        }

        // Next token's logits for every running decoder, in one batch.
        const int n_past = static_cast<int>(prompt.size()) + i;
        items.clear();
        rows.clear();
        for (int j = 0; j < n_decoders_cur; ++j) {
          auto& d = decoders_[j];
          if (d.failed || d.completed) continue;
          d.i_batch = static_cast<int>(items.size());
          rows.push_back(d.i_batch);
          items.push_back(DecodeItem{j, &d.sequence.tokens.back().id, 1, n_past, nullptr});
        }
        decode_batch(items, rows, static_cast<int>(items.size()));
        if (cancelled()) {
          result.cancelled = true;
          return result;
        }
        for_each_running(n_decoders_cur, [&](int j) {
          auto& d = decoders_[j];
          process_logits(filter_, batch_logits_.data() + static_cast<size_t>(d.i_batch) * n_vocab, d.sequence.tokens,
                         d.has_ts, d.seek_delta, t_cur, d.d);
        });
      }

      // Rank the sequences and keep the best.
      {
        double best_score = -INFINITY;
        for (int j = 0; j < n_decoders_cur; ++j) {
          auto& d = decoders_[j];
          if (d.failed) continue;
          d.sequence.tokens.resize(d.sequence.result_len);
          score_sequence(d.sequence, opt_.length_penalty);
          if (d.sequence.result_len > 32 && d.sequence.entropy < opt_.entropy_thold) {
            d.failed = true;  // too repetitive
            continue;
          }
          if (best_score < d.sequence.score) {
            best_score = d.sequence.score;
            best_decoder_id = j;
          }
        }
      }

      bool success = true;
      if (it != temperatures.size() - 1) {
        const auto& d = decoders_[best_decoder_id];
        if (d.failed || (d.sequence.avg_logprobs < opt_.logprob_thold && no_speech_prob < opt_.no_speech_thold))
          success = false;
      }
      if (success) break;
    }

    // Output the window.
    {
      const auto& best = decoders_[best_decoder_id];
      int seek_delta = best.seek_delta;
      const int result_len = best.sequence.result_len;
      const auto& tokens_cur = best.sequence.tokens;
      const bool is_no_speech =
          no_speech_prob > opt_.no_speech_thold && best.sequence.avg_logprobs < opt_.logprob_thold;

      std::vector<int32_t> past;
      if (prompt.front() == sp.prev)
        past.assign(prompt.begin() + 1, prompt.end() - static_cast<std::ptrdiff_t>(prompt_init.size()));
      if (!is_no_speech)
        std::transform(tokens_cur.begin(), tokens_cur.begin() + result_len, std::back_inserter(past),
                       [](const TokenData& t) { return t.id; });
      prompt_past = std::move(past);

      if (!tokens_cur.empty() && !is_no_speech) {
        auto segments = split_segments(tok_, tokens_cur, seek, seek_delta, opt_.single_segment, no_speech_prob);
        for (auto& s : segments) {
          if (opt_.no_timestamps) {
            // The reference leaves these undefined without timestamps: use the window.
            s.t0 = seek;
            s.t1 = std::min(seek + seek_delta, seek_end);
          }
          token_times(tok_, seek, s);
          result.segments.push_back(std::move(s));
        }
      }
      seek += window_advance(tokens_cur, sp.timestamp_begin, seek, seek_end, seek_delta);
    }
  }
  return result;
}

}  // namespace thoth::asr
