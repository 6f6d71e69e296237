// The Whisper network for one transcription: encoder, decoder, and their caches.
// Mutable per transcription; the ModelFile it reads is shared and immutable.
//
// The decoding rules (decoding.h) drive it: encode() one 30 s window, then decode() token
// batches for up to n_sequences parallel sequences (beam search / best-of), each with its own
// self-attention KV cache; the cross-attention keys and values are computed once per window.
#pragma once
#include <atomic>
#include <memory>
#include <span>
#include <string_view>

#include "asr/mel.h"
#include "asr/model_file.h"

namespace thoth::asr {

class ThreadPool;

// Whether a model tensor is one only encode() reads: the encoder's, and the decoder's
// cross-attention key and value projections, which it applies once per window.
bool encode_only_weight(std::string_view tensor_name);

struct DecodeItem {
  int sequence = 0;           // which KV cache
  const int32_t* tokens = nullptr;
  int n_tokens = 0;
  int n_past = 0;             // position of the first token; the sequence's cells at or past it are dropped
  float* logits = nullptr;    // receives n_vocab logits of the last token
};

class WhisperNetwork {
 public:
  // flash_attention: compute attention as ggml's flash_attn_ext does (whisper-cli's default,
  // so transcripts match the reference); off, as its plain softmax path does (what the golden
  // logits oracle used). The two differ in rounding only.
  WhisperNetwork(std::shared_ptr<const ModelFile> model, int n_sequences, ThreadPool& pool,
                 bool flash_attention = true);
  ~WhisperNetwork();
  WhisperNetwork(const WhisperNetwork&) = delete;
  WhisperNetwork& operator=(const WhisperNetwork&) = delete;

  const ModelFile& model() const { return *model_; }
  int n_vocab() const;
  int n_sequences() const;

  // Stop flag for encode() and decode(): checked between layers and operations and inside
  // the matrix products. A call that sees it set returns false at once; the encoder output,
  // cross-attention and (for decode) the cache are then unusable until the next encode() and
  // clear_cache() -- the caller is expected to abandon the transcription.
  void set_cancel(const std::atomic<bool>* flag);

  // Encodes frames [offset, offset + 2 * n_audio_ctx) of mel; frames past mel.n_len are zero,
  // as in the reference. Computes the cross-attention K/V for every decoder layer.
  // False when cancelled midway (set_cancel).
  bool encode(const MelSpectrogram& mel, int offset);
  // The encoder output of the last encode(): n_audio_ctx x n_audio_state (for tests).
  const float* encoder_output() const;

  // Runs each item's tokens through the decoder and writes the last token's logits.
  // False when cancelled midway (set_cancel): the logits are then not written.
  bool decode(std::span<const DecodeItem> items);
  // The self-attention cache is the reference's unified one: cells shared between sequences,
  // visited in cell order. To decode exactly as the reference does, drive it as whisper_full
  // drives its cache: clear_cache() before each window's (or temperature's) prompt; after the
  // prompt, copy_sequence(0, j) for the other decoders; for beam search, each step
  // copy_sequence(source_j, T + j) for every running j first, then for every running j
  // copy_sequence(T + j, j) and remove_sequence(T + j) (T: a sequence range kept for this).
  //
  // Makes sequence dst hold what sequence src holds at positions < n_tokens (dst's own
  // cells are let go first); the two then share those cells (whisper_kv_cache_seq_cp).
  void copy_sequence(int src, int dst, int n_tokens);
  // Sequence seq lets go of all its cells (whisper_kv_cache_seq_rm).
  void remove_sequence(int seq);
  // Empties the cache (whisper_kv_cache_clear).
  void clear_cache();

 private:
  struct Impl;
  std::shared_ptr<const ModelFile> model_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace thoth::asr
