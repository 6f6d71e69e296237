#include "pipeline/pipeline_state.h"

namespace thoth::pipeline {

std::string_view to_string(PipelineState s) {
  switch (s) {
    case PipelineState::Idle: return "idle";
    case PipelineState::Recording: return "recording";
    case PipelineState::Transcribing: return "transcribing";
    case PipelineState::Filtering: return "filtering";
    case PipelineState::Enhancing: return "enhancing";
    case PipelineState::Outputting: return "outputting";
    case PipelineState::Completed: return "completed";
    case PipelineState::Failed: return "failed";
  }
  return "unknown";
}

bool is_working(PipelineState s) {
  return s != PipelineState::Idle && s != PipelineState::Completed && s != PipelineState::Failed;
}

bool is_valid_transition(PipelineState from, PipelineState to) {
  using S = PipelineState;
  // Cancel: any state returns to idle; completed and failed settle there too.
  if (to == S::Idle) return from != S::Idle;
  // An error in any working state fails the run.
  if (to == S::Failed) return is_working(from);
  switch (from) {
    case S::Idle: return to == S::Recording;
    case S::Recording: return to == S::Transcribing;
    // Filtering and enhancing are optional stages: each may be skipped.
    // Completed straight from transcribing: no speech, so nothing to filter, enhance or type.
    case S::Transcribing:
      return to == S::Filtering || to == S::Enhancing || to == S::Outputting || to == S::Completed;
    case S::Filtering: return to == S::Enhancing || to == S::Outputting;
    case S::Enhancing: return to == S::Outputting;
    case S::Outputting: return to == S::Completed;
    case S::Completed:
    case S::Failed: return false;
  }
  return false;
}

}  // namespace thoth::pipeline
