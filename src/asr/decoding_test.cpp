#include "asr/decoding.h"

#include "asr/thread_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <cstring>
#include <cstdio>
#include <functional>
#include <map>

namespace thoth::asr {
namespace {

constexpr int kVocabEn = 51864;
const SpecialTokens kSp{};  // the English-only layout
const int32_t kBeg = kSp.timestamp_begin;
int32_t ts(int n) { return kBeg + n; }

Tokenizer english_tokenizer() {
  std::vector<std::string> vocab(kVocabEn);
  for (int i = 0; i < kVocabEn; ++i) {
    char word[16];
    std::snprintf(word, sizeof word, "w%d ", i);
    vocab[i] = word;
  }
  vocab[220] = " ";
  vocab[kSp.eot] = "[_EOT_]";
  vocab[kSp.sot] = "[_SOT_]";
  for (int i = kBeg; i < kVocabEn; ++i) vocab[i] = "[_TT_" + std::to_string(i - kBeg) + "]";
  vocab[1] = "\"";   // a non-speech token
  vocab[2] = " (";   // its spaced form
  return Tokenizer(std::move(vocab), kSp, false, 0);
}

std::vector<TokenData> tokens_of(std::initializer_list<int32_t> ids) {
  std::vector<TokenData> v;
  for (int32_t id : ids) v.push_back(TokenData{id, id >= kBeg ? id : 0, 0.5f, -0.7f, 0, 0});
  return v;
}

struct FilterFixture : ::testing::Test {
  Tokenizer tok = english_tokenizer();
  DecodingOptions opt;
  std::vector<float> raw = std::vector<float>(kVocabEn, 0.0f);
  DecoderLogits out;

  // Timestamps unlikely by default, so the timestamp-mass rule stays out of the way.
  FilterFixture() {
    for (int i = kBeg; i < kVocabEn; ++i) raw[i] = -10.0f;
  }

  void run(std::initializer_list<int32_t> history, bool has_ts = false, int seek_delta = 3000, float t = 0.0f) {
    const auto ctx = make_logit_filter_context(tok, opt, 1500);
    const auto toks = tokens_of(history);
    process_logits(ctx, raw.data(), toks, has_ts, seek_delta, t, out);
  }
  bool allowed(int32_t id) const { return out.logits[id] > -INFINITY; }
};

TEST_F(FilterFixture, SuppressesBlankAndEndAtTheStartOnly) {
  run({});
  EXPECT_FALSE(allowed(220));
  EXPECT_FALSE(allowed(kSp.eot));
  run({ts(0), 500});
  EXPECT_TRUE(allowed(220));
  EXPECT_TRUE(allowed(kSp.eot));
  opt.suppress_blank = false;
  run({});
  EXPECT_TRUE(allowed(220));
}

TEST_F(FilterFixture, SuppressesTaskLanguageAndControlTokensAlways) {
  run({ts(0), 500});
  for (int32_t id : {kSp.sot, kSp.not_timestamps, kSp.nosp, kSp.solm, kSp.translate, kSp.transcribe, kSp.prev})
    EXPECT_FALSE(allowed(id)) << id;
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(allowed(kSp.sot + 1 + i));
  EXPECT_TRUE(allowed(500));
}

TEST_F(FilterFixture, NoTimestampsSuppressesEveryTimestamp) {
  opt.no_timestamps = true;
  run({500});
  for (int i = kBeg; i < kVocabEn; ++i) ASSERT_FALSE(allowed(i));
}

TEST_F(FilterFixture, TimestampsComeInPairs) {
  // After text then a timestamp: only a timestamp (the pair's second half) or the end.
  run({ts(0), 500, ts(20)}, true, 40);
  for (int i = 0; i < kSp.eot; ++i) ASSERT_FALSE(allowed(i));
  EXPECT_TRUE(allowed(kSp.eot));
  EXPECT_TRUE(allowed(ts(20)));
  // After a pair: text only.
  run({ts(0), 500, ts(20), ts(20)}, true, 40);
  for (int i = kBeg; i < kVocabEn; ++i) ASSERT_FALSE(allowed(i));
  EXPECT_TRUE(allowed(500));
  // The first token alone counts as a pair (penultimate "before the start" is a timestamp).
  run({ts(0)}, true, 0);
  EXPECT_FALSE(allowed(ts(5)));
  EXPECT_TRUE(allowed(500));
}

TEST_F(FilterFixture, InitialTimestampAtMostOneSecond) {
  run({});
  EXPECT_TRUE(allowed(ts(50)));   // 50 x 20 ms = 1.0 s
  EXPECT_FALSE(allowed(ts(51)));
  EXPECT_FALSE(allowed(ts(1500)));
  opt.max_initial_ts = 0.0f;      // 0 disables the limit
  run({});
  EXPECT_TRUE(allowed(ts(1500)));
}

TEST_F(FilterFixture, TimestampsNeverGoBack) {
  run({ts(10), 500, 501}, true, 2 * 30);
  EXPECT_FALSE(allowed(ts(29)));
  EXPECT_TRUE(allowed(ts(30)));   // the same time again is allowed
  EXPECT_TRUE(allowed(ts(31)));
}

TEST_F(FilterFixture, TimestampMassBeatsTheBestTextToken) {
  // 1500 timestamps at logit 0 hold more mass than one text token at logit 5 (e^5 < 1500).
  for (int i = kBeg; i < kVocabEn; ++i) raw[i] = 0.0f;
  raw[500] = 5.0f;
  run({ts(0), 500}, true, 0);
  for (int i = 0; i < kBeg; ++i) ASSERT_FALSE(allowed(i));
  EXPECT_EQ(out.probs[500], 0.0f);
  // A text token at logit 9 beats them (e^9 > 1551): text stays possible.
  raw[500] = 9.0f;
  run({ts(0), 500}, true, 0);
  EXPECT_TRUE(allowed(500));
  EXPECT_GT(out.probs[500], 0.1f);
}

TEST_F(FilterFixture, NonSpeechTokensOnlyWhenAsked) {
  run({ts(0), 500});
  EXPECT_TRUE(allowed(1));
  opt.suppress_nst = true;
  run({ts(0), 500});
  EXPECT_FALSE(allowed(1));
  EXPECT_FALSE(allowed(2));
}

TEST_F(FilterFixture, TemperatureDividesTheLogits) {
  raw[500] = 4.0f;
  run({ts(0), 500}, false, 3000, 0.5f);
  EXPECT_FLOAT_EQ(out.logits[500], 8.0f);
}

TEST(MaxValue, GivesMaxElementsBitsWithNansZerosAndInfinities) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-30.0f, 30.0f);
  const float specials[] = {NAN, 0.0f, -0.0f, -INFINITY, INFINITY, 30.0f};
  int zero_max = 0, nan_first = 0;
  for (int trial = 0; trial < 4000; ++trial) {
    const int64_t n = trial < 3000 ? 1 + trial % 100 : 51864;
    std::vector<float> v(static_cast<size_t>(n));
    const bool negative = trial % 3 == 0;  // so that a zero can be the maximum
    for (auto& x : v) x = negative ? -std::fabs(u(rng)) : u(rng);
    for (int k = 0; k < trial % 5; ++k) v[rng() % n] = specials[rng() % 6];
    if (trial % 7 == 0) v[rng() % std::min<int64_t>(n, 16)] = NAN;  // a chain's first
    if (trial % 11 == 0) v[0] = NAN;
    const float want = *std::max_element(v.begin(), v.end()), got = max_value(v.data(), n);
    uint32_t a, b;
    std::memcpy(&a, &want, 4);
    std::memcpy(&b, &got, 4);
    ASSERT_EQ(a, b) << "trial " << trial << ", n " << n;
    zero_max += want == 0.0f;
    nan_first += std::isnan(want);
  }
  EXPECT_GT(zero_max, 20);  // the cases the fallback exists for were met
  EXPECT_GT(nan_first, 20);
}

TEST(Sampling, BestTakesTheFirstMaximumAndRecordsTheTimestampCompanion) {
  DecoderLogits d;
  d.probs.assign(kVocabEn, 0.0f);
  d.logprobs.assign(kVocabEn, -INFINITY);
  d.probs[7] = 0.3f;  d.logprobs[7] = std::log(0.3f);
  d.probs[9] = 0.3f;  d.logprobs[9] = std::log(0.3f);
  d.probs[ts(4)] = 0.1f;
  d.probs[ts(6)] = 0.2f;
  std::mt19937 rng(0);
  const TokenData t = sample_token(d, kBeg, true, rng);
  EXPECT_EQ(t.id, 7);
  EXPECT_EQ(t.tid, ts(6));
  EXPECT_NEAR(t.pt, 0.2 / 0.3, 1e-6);
  EXPECT_NEAR(t.ptsum, 0.3, 1e-6);
}

TEST(Sampling, DrawsFollowTheReferenceGenerator) {
  // Two tokens with probability 1/2: the draws are those of std::discrete_distribution over
  // std::mt19937 seeded as the reference seeds decoder j (seed j).
  DecoderLogits d;
  d.probs.assign(kVocabEn, 0.0f);
  d.logprobs.assign(kVocabEn, -INFINITY);
  d.probs[10] = d.probs[20] = 0.5f;
  d.logprobs[10] = d.logprobs[20] = std::log(0.5f);
  std::mt19937 a(3), b(3);
  const auto draws = sample_token_topk(d, kBeg, 5, a);
  std::discrete_distribution<> dist(d.probs.begin(), d.probs.end());
  ASSERT_EQ(draws.size(), 5u);
  for (const auto& t : draws) {
    EXPECT_EQ(t.id, dist(b));
    EXPECT_EQ(t.tid, kBeg);  // no timestamp has any probability: the companion stays at beg
  }
}

TEST(Score, AverageLogProbAndEntropyOfTheLast32Tokens) {
  Sequence s;
  for (int i = 0; i < 40; ++i) s.tokens.push_back(TokenData{100, 0, 0.5f, -0.5f, 0, 0});
  s.result_len = 40;
  score_sequence(s, -1.0f);
  EXPECT_DOUBLE_EQ(s.sum_logprobs, -20.0);
  EXPECT_DOUBLE_EQ(s.avg_logprobs, -0.5);
  EXPECT_DOUBLE_EQ(s.score, -0.5);
  EXPECT_DOUBLE_EQ(s.entropy, 0.0);  // one token repeated: a repetition loop

  for (int i = 0; i < 40; ++i) s.tokens[i].id = i;
  score_sequence(s, -1.0f);
  EXPECT_NEAR(s.entropy, std::log(32.0), 1e-12);  // only the last 32 count

  score_sequence(s, 1.0f);  // length penalty ((5 + n) / 6)^alpha
  EXPECT_NEAR(s.score, -20.0 / (45.0 / 6.0), 1e-12);

  Sequence empty;
  score_sequence(empty, -1.0f);
  EXPECT_EQ(empty.score, -INFINITY);
}

BeamCandidate candidate(int decoder, std::initializer_list<int32_t> ids, double sum) {
  BeamCandidate c;
  c.decoder = decoder;
  c.sequence.tokens = tokens_of(ids);
  c.sequence.sum_logprobs_all = sum;
  return c;
}

TEST(BeamSearch, CandidatesSortedByLogProbThenDecoder) {
  std::vector<BeamCandidate> c = {candidate(0, {1, 2}, -3.0), candidate(1, {1, 3}, -1.0),
                                  candidate(0, {1, 4}, -1.0), candidate(1, {1, 5}, -2.0)};
  const auto taken = assign_beams(c, {0, 1, 2}, 1);
  EXPECT_EQ(c[0].decoder, 0);
  EXPECT_EQ(c[0].sequence.tokens[1].id, 4);
  EXPECT_EQ(c[1].sequence.tokens[1].id, 3);
  EXPECT_EQ(taken, (std::vector<size_t>{0, 1, 2}));
}

TEST(BeamSearch, DuplicateSequencesAreSkippedAfterTheFirstStep) {
  std::vector<BeamCandidate> c = {candidate(0, {7}, -1.0), candidate(0, {7}, -1.0), candidate(1, {7}, -1.0),
                                  candidate(1, {8}, -2.0)};
  // Step 0: every decoder starts from the same prompt, duplicates are kept.
  auto copy = c;
  EXPECT_EQ(assign_beams(copy, {0, 1}, 0), (std::vector<size_t>{0, 1}));
  // Later steps: decoder 1 skips the two copies of what decoder 0 took.
  EXPECT_EQ(assign_beams(c, {0, 1}, 3), (std::vector<size_t>{0, 3}));
}

TEST(BeamSearch, WrapsAroundWhenCandidatesRunOut) {
  std::vector<BeamCandidate> c = {candidate(0, {7}, -1.0), candidate(0, {7}, -1.0)};
  EXPECT_EQ(assign_beams(c, {0, 1, 2}, 2), (std::vector<size_t>{0, 0, 0}));
}

TEST(Segments, SplitAtTimestampsWithClosingTimestampInEach) {
  Tokenizer tok = english_tokenizer();
  // <0.00> A B <2.00> <2.00> C <4.00>
  auto t = tokens_of({kBeg, 500, 501, ts(100), ts(100), 502, ts(200)});
  t[0].tid = kBeg;
  const auto segs = split_segments(tok, t, 1000, 400, false, 0.1f);
  ASSERT_EQ(segs.size(), 2u);
  EXPECT_EQ(segs[0].t0, 1000);
  EXPECT_EQ(segs[0].t1, 1200);
  EXPECT_EQ(segs[0].text, "w500 w501 ");
  ASSERT_EQ(segs[0].tokens.size(), 4u);  // the first segment keeps the opening <0.00>, as the reference
  EXPECT_EQ(segs[0].tokens.back().id, ts(100));
  EXPECT_EQ(segs[1].t0, 1200);
  EXPECT_EQ(segs[1].t1, 1400);
  ASSERT_EQ(segs[1].tokens.size(), 2u);  // C and its closing timestamp, not the opening one
  EXPECT_EQ(segs[1].tokens[0].id, 502);
  EXPECT_FLOAT_EQ(segs[1].no_speech_prob, 0.1f);
}

TEST(Segments, ANextSegmentOpensAtItsOwnTimestampAfterAPause) {
  Tokenizer tok = english_tokenizer();
  // <0.00> A <1.00> <3.00> B <4.00>: silence from 1 s to 3 s stays a gap (the reference's
  // long-form golden transcripts have such gaps).
  auto t = tokens_of({kBeg, 500, ts(50), ts(150), 501, ts(200)});
  t[0].tid = kBeg;
  const auto segs = split_segments(tok, t, 1000, 400, false, 0);
  ASSERT_EQ(segs.size(), 2u);
  EXPECT_EQ(segs[0].t1, 1100);
  EXPECT_EQ(segs[1].t0, 1300);
  EXPECT_EQ(segs[1].t1, 1400);
}

TEST(TokenTimes, ConfidentTimestampsAnchorAndTheRestSplitsByVoiceLength) {
  Tokenizer tok = english_tokenizer();
  // <0.00> A B C <4.00> in the window at 10 s; B's likeliest timestamp (1.00 s) is confident.
  auto t = tokens_of({kBeg, 500, 501, 502, ts(200)});
  for (auto& x : t) x.tid = kBeg;
  t[2].tid = ts(50);
  t[2].pt = 0.5f;
  t[2].ptsum = 0.5f;
  DecodedSegment seg{1000, 1400, "", t, 0};
  token_times(tok, 1000, seg);
  const auto& r = seg.tokens;
  EXPECT_EQ(r[0].t0, 1000);
  EXPECT_EQ(r[2].t0, 1100);  // anchored at its timestamp
  EXPECT_EQ(r[1].t1, 1100);
  EXPECT_EQ(r[3].t1, 1400);  // the last text token ends with the segment
  EXPECT_EQ(r[4].t0, 1400);
  EXPECT_EQ(r[4].t1, 1400);
  for (size_t j = 0; j < r.size(); ++j) {
    EXPECT_LE(r[j].t0, r[j].t1) << j;
    if (j > 0) {
      EXPECT_LE(r[j - 1].t1, r[j].t0) << j;
    }
    EXPECT_GE(r[j].t0, 1000);
    EXPECT_LE(r[j].t1, 1400);
  }
  // Between the anchors the span is split, not left empty.
  EXPECT_GT(r[3].t1, r[3].t0);
}

TEST(TokenTimes, UnconfidentOrBackwardTimestampsAreIgnored) {
  Tokenizer tok = english_tokenizer();
  auto t = tokens_of({500, 501, 502, ts(100)});
  for (auto& x : t) x.tid = kBeg;
  t[1].tid = ts(80);
  t[1].pt = 0.001f;  // not confident
  t[1].ptsum = 0.5f;
  t[2].tid = ts(120);  // beyond the segment end
  t[2].pt = t[2].ptsum = 0.9f;
  DecodedSegment seg{0, 200, "", t, 0};
  token_times(tok, 0, seg);
  const auto& r = seg.tokens;
  EXPECT_EQ(r[0].t0, 0);
  EXPECT_EQ(r[2].t1, 200);
  EXPECT_NE(r[1].t0, 160);
  for (size_t j = 1; j < r.size(); ++j) EXPECT_LE(r[j - 1].t1, r[j].t0);
}

TEST(Segments, TrailingTextEndsAtTheWindowShift) {
  Tokenizer tok = english_tokenizer();
  auto t = tokens_of({500, 501});
  t[0].tid = ts(15);  // a first text token carries the likeliest timestamp as its start
  const auto segs = split_segments(tok, t, 0, 3000, false, 0);
  ASSERT_EQ(segs.size(), 1u);
  EXPECT_EQ(segs[0].t0, 30);
  EXPECT_EQ(segs[0].t1, 3000);
}

TEST(Segments, WindowAdvanceSkipsTheWholeWindowAfterALoneTimestamp) {
  // text then one timestamp: the reference moves a whole window (or to the end).
  EXPECT_EQ(window_advance(tokens_of({500, ts(100)}), kBeg, 0, 5000, 200), 3000);
  EXPECT_EQ(window_advance(tokens_of({500, ts(100)}), kBeg, 4000, 5000, 200), 1000);
  // A closing pair: move to the last timestamp.
  EXPECT_EQ(window_advance(tokens_of({500, ts(100), ts(100)}), kBeg, 0, 5000, 200), 200);
  EXPECT_EQ(window_advance(tokens_of({}), kBeg, 0, 5000, 3000), 3000);
}

TEST(Language, DetectionIsASoftmaxOverTheLanguageTokens) {
  Tokenizer tok(std::vector<std::string>(51865, "x"), SpecialTokens{50257, 50258, 50358, 50359, 50360, 50361, 50362,
                                                                       50363, 50364, 50259},
                true, 99);
  std::vector<float> logits(51865, -100.0f);
  for (int i = 0; i < 100; ++i) logits[tok.language_token(i)] = 0.0f;
  logits[tok.language_token(86)] = std::log(3.0f);  // lb three times as likely as each other
  std::vector<float> probs;
  EXPECT_EQ(detect_language_from_logits(tok, logits.data(), probs), 86);
  ASSERT_EQ(probs.size(), 100u);
  EXPECT_NEAR(probs[86], 3.0 / 102.0, 1e-6);
  EXPECT_NEAR(probs[0], 1.0 / 102.0, 1e-6);
}

// ---- the whole loop against a scripted network ----

// A "network" whose next-token logits depend only on the tokens its cache holds after the
// last sot: a script maps that count to the token to emit. The cache is simulated exactly
// (positions, copies), so a wrong cache copy or position shows up as a wrong transcript.
class ScriptedNetwork : public DecoderBackend {
 public:
  using Script = std::function<int32_t(const std::vector<int32_t>& generated, int seek)>;
  ScriptedNetwork(int n_sequences, Script script, float peak = 30.0f, int n_vocab = kVocabEn,
                  int32_t sot = kSp.sot)
      : caches_(n_sequences), script_(std::move(script)), peak_(peak), n_vocab_(n_vocab), sot_(sot) {}

  void encode(int seek) override {
    seek_ = seek;
    encodes.push_back(seek);
  }
  void decode(std::span<const DecodeItem> items) override {
    for (const auto& it : items) {
      auto& c = caches_.at(it.sequence);
      ASSERT_LE(it.n_past, static_cast<int>(c.size())) << "decode past the cache's end";
      c.resize(it.n_past);  // a new prompt overwrites what the sequence held
      if (it.n_past == 0) ++prompt_decodes;
      c.insert(c.end(), it.tokens, it.tokens + it.n_tokens);
      if (it.n_tokens > 1) prompts.emplace_back(it.tokens, it.tokens + it.n_tokens);
      std::vector<int32_t> generated;
      for (size_t i = 0; i < c.size(); ++i)
        if (c[i] == sot_) generated.clear();
        else generated.push_back(c[i]);
      std::fill(it.logits, it.logits + n_vocab_, 0.0f);
      it.logits[script_(generated, seek_)] = peak_;
      ++decodes;
      if (cancel_after > 0 && decodes >= cancel_after) cancel_flag->store(true);
    }
  }
  void copy_sequence(int src, int dst, int n_tokens) override {
    auto& s = caches_.at(src);
    ASSERT_LE(n_tokens, static_cast<int>(s.size()));
    caches_.at(dst).assign(s.begin(), s.begin() + n_tokens);
  }
  void remove_sequence(int seq) override { caches_.at(seq).clear(); }
  void clear_cache() override {
    for (auto& c : caches_) c.clear();
    ++clears;
  }

  std::vector<int> encodes;
  std::vector<std::vector<int32_t>> prompts;
  int decodes = 0;
  int prompt_decodes = 0;
  int clears = 0;
  int cancel_after = 0;
  std::atomic<bool>* cancel_flag = nullptr;

 private:
  std::vector<std::vector<int32_t>> caches_;
  Script script_;
  float peak_;
  int n_vocab_;
  int32_t sot_;
  int seek_ = 0;
};

// Per window: <0.20> A <10.00> <10.00> B <20.00> <20.00> end.
int32_t two_segment_script(const std::vector<int32_t>& g, int) {
  static const int32_t seq[] = {ts(10), 500, ts(500), ts(500), 501, ts(1000), ts(1000), kSp.eot};
  return g.size() < std::size(seq) ? seq[g.size()] : kSp.eot;
}

TEST(WindowDecoder, GreedyLongFormSeeksWindowToWindowWithPreviousText) {
  Tokenizer tok = english_tokenizer();
  DecodingOptions opt;
  opt.beam_search = false;
  opt.best_of = 1;
  opt.temperature_inc = 0.0f;
  ScriptedNetwork net(WindowDecoder::sequences_needed(opt), two_segment_script);
  WindowDecoder dec(net, tok, ModelShape{}, opt);
  const DecodingResult r = dec.run(4400);  // 44 s of audio
  EXPECT_FALSE(r.cancelled);
  EXPECT_EQ(net.encodes, (std::vector<int>{0, 2000, 4000}));
  // Windows 1 and 2 each give two segments; window 3 ends at the audio's end after "A".
  ASSERT_EQ(r.segments.size(), 5u);
  const int64_t expect[][2] = {{20, 1000}, {1000, 2000}, {2020, 3000}, {3000, 4000}, {4020, 5000}};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(r.segments[i].t0, expect[i][0]) << i;
    EXPECT_EQ(r.segments[i].t1, expect[i][1]) << i;
  }
  EXPECT_EQ(r.segments[0].text, "w500 ");
  EXPECT_EQ(r.segments[1].text, "w501 ");
  // Window 2 is conditioned on window 1's tokens after <|startofprev|>; window 3, within 5 s
  // of the end, is not. (Its segment ends where its timestamp says, past the audio, as in the
  // reference.)
  ASSERT_GE(net.prompts.size(), 1u);
  const std::vector<int32_t> w2 = {kSp.prev, ts(10), 500, ts(500), ts(500), 501, ts(1000), ts(1000), kSp.sot};
  EXPECT_EQ(net.prompts[0], w2);
  EXPECT_EQ(net.prompts.size(), 1u);
}

TEST(WindowDecoder, BeamSearchAgreesWithGreedyOnAConfidentScript) {
  Tokenizer tok = english_tokenizer();
  DecodingOptions opt;  // defaults: beam 5, fallback on
  ScriptedNetwork net(WindowDecoder::sequences_needed(opt), two_segment_script);
  WindowDecoder dec(net, tok, ModelShape{}, opt);
  const DecodingResult r = dec.run(5000);
  ASSERT_EQ(r.segments.size(), 5u);
  EXPECT_EQ(r.segments[4].t0, 4020);
  EXPECT_EQ(r.segments[4].text, "w500 ");
}

// The next token depends on the whole history a sequence's cache holds, so a beam whose cache
// was copied from the wrong beam (or cut at the wrong length) would no longer follow the script.
int32_t history_script(const std::vector<int32_t>& g, int) {
  if (g.empty()) return ts(5);
  if (g.size() >= 6) return g.back() >= kBeg ? kSp.eot : ts(100);
  int64_t sum = 0;
  for (int32_t id : g) sum += id;
  return 600 + static_cast<int32_t>(sum % 97);
}

TEST(WindowDecoder, BeamsDivergeAndKeepTheirOwnCaches) {
  Tokenizer tok = english_tokenizer();
  DecodingOptions opt;
  opt.temperature_inc = 0.0f;
  // Peak logit 12: the scripted token has p ~ 0.76, so the sampled candidates differ.
  ScriptedNetwork net(WindowDecoder::sequences_needed(opt), history_script, 12.0f);
  WindowDecoder dec(net, tok, ModelShape{}, opt);
  const DecodingResult r = dec.run(1100);
  ASSERT_EQ(r.segments.size(), 1u);
  std::vector<int32_t> expect;
  while (expect.size() < 7) expect.push_back(history_script(expect, 0));
  // The segment holds the text and the closing timestamp, not the opening <0.10>.
  ASSERT_EQ(r.segments[0].tokens.size(), expect.size() - 1);
  for (size_t i = 1; i < expect.size(); ++i) EXPECT_EQ(r.segments[0].tokens[i - 1].id, expect[i]) << i;
}

TEST(WindowDecoder, ThreadsDoNotChangeTheResult) {
  Tokenizer tok = english_tokenizer();
  DecodingOptions opt;  // beam 5 with fallback
  auto run = [&](ThreadPool* pool) {
    ScriptedNetwork net(WindowDecoder::sequences_needed(opt), history_script, 9.0f);
    return WindowDecoder(net, tok, ModelShape{}, opt, pool).run(1100);
  };
  ThreadPool pool(3);
  const DecodingResult a = run(nullptr), b = run(&pool);
  ASSERT_EQ(a.segments.size(), b.segments.size());
  for (size_t i = 0; i < a.segments.size(); ++i) {
    EXPECT_EQ(a.segments[i].t0, b.segments[i].t0);
    EXPECT_EQ(a.segments[i].text, b.segments[i].text);
  }
}

TEST(WindowDecoder, FallbackRetriesAtEveryTemperatureWhenUnsure) {
  // Flat logits: an average log-prob far below -1 at every temperature, so every temperature
  // is tried (0.0, 0.2, ..., 1.0), each with its own prompt decode.
  Tokenizer tok = english_tokenizer();
  DecodingOptions opt;
  opt.beam_search = false;
  opt.best_of = 2;
  ScriptedNetwork net(WindowDecoder::sequences_needed(opt),
                      [](const std::vector<int32_t>& g, int) { return g.size() < 3 ? 700 : kSp.eot; }, 0.0f);
  WindowDecoder dec(net, tok, ModelShape{}, opt);
  const DecodingResult r = dec.run(1100);
  EXPECT_FALSE(r.cancelled);
  EXPECT_EQ(net.encodes.size(), 1u);
  EXPECT_EQ(net.prompt_decodes, 6);
  EXPECT_EQ(net.clears, 6);  // a fresh cache for every temperature's prompt
}

TEST(WindowDecoder, NoSpeechProbabilityReadsTheReferenceBuffersFirstRow) {
  // English-only: the prompt is [sot] alone, so row 0 is the prompt's last token and the
  // no-speech token (logit 0 against a peak of 30) is all but impossible.
  {
    Tokenizer tok = english_tokenizer();
    DecodingOptions opt;
    opt.beam_search = false;
    opt.best_of = 1;
    ScriptedNetwork net(WindowDecoder::sequences_needed(opt), two_segment_script);
    const DecodingResult r = WindowDecoder(net, tok, ModelShape{}, opt).run(1100);
    ASSERT_FALSE(r.segments.empty());
    EXPECT_LT(r.segments[0].no_speech_prob, 1e-9f);
  }
  // Multilingual: the prompt [sot, en, transcribe] fills three rows; the reference reads row 0,
  // which the first decode never wrote (zeros), against the maximum of the whole buffer (the
  // peak in row 2): 1 / n_vocab.
  {
    const SpecialTokens ml{50257, 50258, 50358, 50359, 50360, 50361, 50362, 50363, 50364, 50259};
    std::vector<std::string> vocab(51865, "x");
    Tokenizer tok(std::move(vocab), ml, true, 99);
    DecodingOptions opt;
    opt.beam_search = false;
    opt.best_of = 1;
    auto script = [&](const std::vector<int32_t>& g, int) -> int32_t {
      static const int32_t seq[] = {ml.timestamp_begin + 10, 500, ml.timestamp_begin + 100, ml.eot};
      const size_t k = g.size() - 2;  // after the language and task tokens
      return k < std::size(seq) ? seq[k] : ml.eot;
    };
    ScriptedNetwork net(WindowDecoder::sequences_needed(opt), script, 30.0f, 51865, ml.sot);
    const DecodingResult r = WindowDecoder(net, tok, ModelShape{}, opt).run(1100);
    ASSERT_FALSE(r.segments.empty());
    EXPECT_NEAR(r.segments[0].no_speech_prob, 1.0 / 51865, 1e-8);
  }
}

TEST(WindowDecoder, AudioShorterThan100msGivesNothing) {
  Tokenizer tok = english_tokenizer();
  DecodingOptions opt;
  ScriptedNetwork net(WindowDecoder::sequences_needed(opt), two_segment_script);
  WindowDecoder dec(net, tok, ModelShape{}, opt);
  const DecodingResult r = dec.run(9);
  EXPECT_TRUE(r.segments.empty());
  EXPECT_TRUE(net.encodes.empty());
}

TEST(WindowDecoder, CancellationStopsBetweenSteps) {
  Tokenizer tok = english_tokenizer();
  std::atomic<bool> cancel{false};
  DecodingOptions opt;
  opt.beam_search = false;
  opt.best_of = 1;
  opt.cancel = &cancel;
  // A script that never ends a window on its own: it would run 220 steps per window.
  ScriptedNetwork net(WindowDecoder::sequences_needed(opt),
                      [](const std::vector<int32_t>& g, int) { return g.empty() ? ts(1) : 800 + int32_t(g.size() % 7); });
  net.cancel_after = 5;
  net.cancel_flag = &cancel;
  WindowDecoder dec(net, tok, ModelShape{}, opt);
  const DecodingResult r = dec.run(60000);
  EXPECT_TRUE(r.cancelled);
  EXPECT_EQ(net.decodes, 5);
  EXPECT_EQ(net.encodes.size(), 1u);
}

TEST(WindowDecoder, ProgressReachesTheEnd) {
  Tokenizer tok = english_tokenizer();
  DecodingOptions opt;
  opt.beam_search = false;
  opt.best_of = 1;
  std::vector<float> seen;
  opt.on_progress = [&](float f) { seen.push_back(f); };
  ScriptedNetwork net(WindowDecoder::sequences_needed(opt), two_segment_script);
  WindowDecoder dec(net, tok, ModelShape{}, opt);
  (void)dec.run(5000);
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_FLOAT_EQ(seen.front(), 0.0f);
  EXPECT_FLOAT_EQ(seen.back(), 1.0f);
}

}  // namespace
}  // namespace thoth::asr
