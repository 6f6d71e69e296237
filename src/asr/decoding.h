// The reference's decoding rules (whisper.cpp 1.9.3 whisper_full_with_state), run against a
// small backend interface so the rules can be tested with scripted logits.
//
// Times are in centiseconds (mel frames are 10 ms; timestamp tokens are 20 ms apart), as in
// the reference; the Session converts to milliseconds.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "asr/network.h"
#include "asr/tokenizer.h"

namespace thoth::asr {

// What the rules need from the network. WhisperNetwork satisfies it through an adapter
// (transcribe.cpp); tests script it.
class ThreadPool;

class DecoderBackend {
 public:
  virtual ~DecoderBackend() = default;
  // Encodes the 30 s window starting at mel frame `seek`.
  virtual void encode(int seek) = 0;
  // Runs each item's tokens on its sequence's cache and writes the last token's logits.
  virtual void decode(std::span<const DecodeItem> items) = 0;
  // The reference's unified self-attention cache (see network.h): dst lets go of its cells
  // and shares src's cells at positions < n_tokens; remove_sequence lets go of all of seq's
  // cells; clear_cache empties the cache. The rules call them in the reference's order, since
  // where a token's cell lands decides the order attention visits it in.
  virtual void copy_sequence(int src, int dst, int n_tokens) = 0;
  virtual void remove_sequence(int seq) = 0;
  virtual void clear_cache() = 0;
};

constexpr int kMaxDecoders = 8;  // WHISPER_MAX_DECODERS

struct ModelShape {
  int n_text_ctx = 448;
  int n_audio_ctx = 1500;
  int n_text_layer = 4;
};

// whisper_full_params, the part that decides the tokens. Defaults are the reference's
// (beam search, size 5, best-of 5, fallback on).
struct DecodingOptions {
  bool beam_search = true;
  int beam_size = 5;
  int best_of = 5;
  float temperature = 0.0f;
  float temperature_inc = 0.2f;  // 0 = no fallback
  float entropy_thold = 2.4f;
  float logprob_thold = -1.0f;
  float no_speech_thold = 0.6f;
  float length_penalty = -1.0f;
  float max_initial_ts = 1.0f;
  bool no_timestamps = false;
  bool single_segment = false;
  bool suppress_blank = true;
  bool suppress_nst = false;
  int max_tokens = 0;
  int n_max_text_ctx = 16384;     // 0 = do not condition on previous text
  std::vector<int32_t> prompt_tokens;  // initial prompt, already tokenized
  int language_id = 0;            // -1 = detect on the first window
  bool translate = false;
  uint32_t seed = 0;              // decoder j samples with std::mt19937(seed + j)
  const std::atomic<bool>* cancel = nullptr;
  std::function<void(float)> on_progress;  // fraction of the audio done, after each window
};

// whisper_token_data: the sampled token and its timestamp companion.
struct TokenData {
  int32_t id = 0;
  int32_t tid = 0;    // most probable timestamp token at this step (or id, if a timestamp)
  float p = 0;        // probability of id
  float plog = 0;     // log probability of id
  float pt = 0;       // probability of tid
  float ptsum = 0;    // total probability of the timestamp tokens
  int64_t t0 = -1, t1 = -1;  // the token's time span (centiseconds), set by token_times
};

struct DecodedSegment {
  int64_t t0 = 0, t1 = 0;        // centiseconds
  std::string text;              // joined token bytes (may be invalid UTF-8: see to_valid_utf8)
  std::vector<TokenData> tokens; // text tokens and the closing timestamp
  float no_speech_prob = 0;
};

struct DecodingResult {
  std::vector<DecodedSegment> segments;
  int language_id = 0;
  float language_prob = 1.0f;
  bool cancelled = false;
};

// ---- the pieces, pure functions over logits (tested one by one) ----

// *std::max_element(p, p + n) for n > 0, the same bits, in eight independent chains: one
// compare chain over a vocabulary of logits is latency-bound (51864 values: 28 us, 8 here).
float max_value(const float* p, int64_t n);

// log_softmax as whisper_compute_logprobs: the maximum is taken over the whole buffer
// (which for a multi-token batch includes rows of other tokens), the sum over n_logits.
void compute_logprobs(const std::vector<float>& logits, int n_logits, std::vector<float>& logprobs);
// The same with the maximum given (the maximum of a buffer larger than logits).
void compute_logprobs(const float* logits, int n_logits, float logit_max, float* logprobs);
// probs = exp(logprobs) (a filtered logit's logprob is -inf, its probability 0).
void compute_probs(int n_logits, const std::vector<float>& logprobs, std::vector<float>& probs);

// Filters applied to one decoder's logits before sampling (whisper_process_logits).
struct LogitFilterContext {
  const Tokenizer* tokenizer = nullptr;
  const DecodingOptions* options = nullptr;
  int n_audio_ctx = 1500;
  int32_t blank_id = -1;                  // the " " token
  std::vector<int32_t> non_speech_ids;    // for suppress_nst
};
LogitFilterContext make_logit_filter_context(const Tokenizer& tokenizer, const DecodingOptions& options,
                                             int n_audio_ctx);

struct DecoderLogits {
  std::vector<float> logits, logprobs, probs;
};
// raw: n_vocab logits of the decoder's last token. tokens: what the decoder produced so far in
// this window. has_ts / seek_delta: the decoder's timestamp state.
void process_logits(const LogitFilterContext& ctx, const float* raw, std::span<const TokenData> tokens,
                    bool has_ts, int seek_delta, float temperature, DecoderLogits& out);

// whisper_sample_token: arg-max (best) or one draw from the distribution.
TokenData sample_token(const DecoderLogits& d, int32_t token_beg, bool best, std::mt19937& rng);
// whisper_sample_token_topk: k draws from the distribution (the reference's beam search
// samples its candidates).
std::vector<TokenData> sample_token_topk(const DecoderLogits& d, int32_t token_beg, int k, std::mt19937& rng);

struct Sequence {
  std::vector<TokenData> tokens;
  int result_len = 0;
  double sum_logprobs_all = 0;
  double sum_logprobs = -INFINITY;
  double avg_logprobs = -INFINITY;
  double entropy = 0;
  double score = -INFINITY;
};
// whisper_sequence_score: sum/avg log-prob of the first result_len tokens, length penalty, and
// the entropy of the last 32 tokens (the reference's stand-in for the compression ratio).
void score_sequence(Sequence& seq, float length_penalty);
bool same_tokens(const Sequence& a, const Sequence& b);

// Beam search bookkeeping: order candidates (by cumulative log-prob, then decoder), hand one
// to each running decoder, skipping duplicates of the one just handed out (after step 0).
struct BeamCandidate {
  int decoder = 0;
  int seek_delta = 0;
  bool has_ts = false;
  Sequence sequence;
};
// Returns, for each decoder index j in `running`, the index into the sorted candidates it takes.
// `candidates` is sorted in place.
std::vector<size_t> assign_beams(std::vector<BeamCandidate>& candidates, const std::vector<int>& running, int step);

// Splits a window's tokens into segments at timestamp tokens (the reference's output loop).
// seek: window start (cs); seek_delta: how far the window advanced (cs).
std::vector<DecodedSegment> split_segments(const Tokenizer& tok, std::span<const TokenData> tokens, int seek,
                                           int seek_delta, bool single_segment, float no_speech_prob);
// Per-token times inside a segment, as the reference's token-level timestamps (without their
// signal-energy adjustment): a token whose most likely timestamp is confident (pt and ptsum
// above the thresholds), later than the last one anchored and inside the segment starts there;
// the spans between anchors are split in proportion to how long each token takes to say.
void token_times(const Tokenizer& tok, int seek, DecodedSegment& segment, float thold_pt = 0.01f,
                 float thold_ptsum = 0.01f);

// How far to move after a window: seek_delta, or the whole window when the last timestamp
// stands alone after text (the reference's "single timestamp ending").
int window_advance(std::span<const TokenData> tokens, int32_t token_beg, int seek, int seek_end, int seek_delta);

// Language detection from the logits after [sot]: probabilities over the reference's table,
// softmax in double. Returns the id of the most probable language; probs has 100 entries.
int detect_language_from_logits(const Tokenizer& tok, const float* logits, std::vector<float>& probs);

// ---- the whole algorithm ----

// Decodes the audio window by window. seek_end = frames that hold audio (mel n_len_org).
// Fills `result`; stops early (result.cancelled) when options.cancel becomes true.
class WindowDecoder {
 public:
  // pool (optional): samples and filters the decoders' logits in parallel, as the reference
  // does with its threads; results do not depend on it.
  WindowDecoder(DecoderBackend& backend, const Tokenizer& tokenizer, const ModelShape& shape,
                const DecodingOptions& options, ThreadPool* pool = nullptr);
  // Number of sequences the backend must hold: one per decoder, and as many again for the
  // beam search's cache shuffle (sequence n_decoders + j stages decoder j's next cache).
  static int sequences_needed(const DecodingOptions& options);

  DecodingResult run(int seek_end);
  // Language detection on the window at frame 0 (whisper_lang_auto_detect).
  int detect_language(std::vector<float>& probs);

 private:
  struct Decoder {
    Sequence sequence;
    int i_batch = 0;
    int seek_delta = 0;
    bool failed = false, completed = false, has_ts = false;
    DecoderLogits d;
    std::mt19937 rng;
  };
  bool cancelled() const;
  // fn(j) for every decoder j < n that is neither completed nor failed, spread over the pool.
  void for_each_running(int n, const std::function<void(int)>& fn);
  // decode() into batch_logits_ (item r's logits at row r), while keeping track of what the
  // reference's logits buffer would hold: it has one row per batch token, only rows that asked
  // for logits are written, the others keep what an earlier call left there (or zeros when the
  // buffer grew). The no-speech probability reads that buffer's row 0 and its overall maximum,
  // so both are mirrored here without holding the whole buffer.
  void decode_batch(std::vector<DecodeItem>& items, const std::vector<int>& rows, int n_rows);
  float no_speech_probability() const;

  DecoderBackend& backend_;
  ThreadPool* pool_ = nullptr;
  const Tokenizer& tok_;
  ModelShape shape_;
  DecodingOptions opt_;
  LogitFilterContext filter_;
  std::vector<Decoder> decoders_;
  std::vector<float> batch_logits_;
  std::vector<float> row0_;      // the reference buffer's first row
  std::vector<float> row_max_;   // the maximum of each of its rows
};

}  // namespace thoth::asr
