// The dictation lifecycle, state for state as in the seed design note:
//   idle -> recording -> transcribing -> [filtering] -> [enhancing] -> outputting -> completed
// plus transcribing -> completed when nothing was said (no text to filter, enhance or type),
// with failed reachable from every working state, cancel returning any state to idle, and
// completed/failed settling back to idle when the run is over.
#pragma once
#include <string_view>

namespace thoth::pipeline {

enum class PipelineState {
  Idle,
  Recording,
  Transcribing,
  Filtering,
  Enhancing,
  Outputting,
  Completed,
  Failed,
};

inline constexpr PipelineState kAllStates[] = {
    PipelineState::Idle,      PipelineState::Recording,  PipelineState::Transcribing,
    PipelineState::Filtering, PipelineState::Enhancing,  PipelineState::Outputting,
    PipelineState::Completed, PipelineState::Failed,
};

// snake_case, as the seed serialises it ("idle", "recording", ...).
std::string_view to_string(PipelineState s);

// True when `to` may follow `from` (cancel is the move to Idle).
bool is_valid_transition(PipelineState from, PipelineState to);

// True while a dictation occupies the pipeline (everything but idle/completed/failed).
bool is_working(PipelineState s);

}  // namespace thoth::pipeline
