#include "core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace thoth::log {

void init(int verbosity) {
  spdlog::drop("thoth");  // init may run more than once (tests)
  auto logger = spdlog::stderr_color_mt("thoth");
  spdlog::level::level_enum level = spdlog::level::warn;
  if (verbosity < 0) level = spdlog::level::err;
  else if (verbosity == 1) level = spdlog::level::info;
  else if (verbosity == 2) level = spdlog::level::debug;
  else if (verbosity >= 3) level = spdlog::level::trace;
  logger->set_level(level);
  logger->set_pattern(verbosity >= 2 ? "[%H:%M:%S.%e %t] %^%l%$: %v" : "thoth: %^%l%$: %v");
  // Errors are written at once, so a crash right after still shows what went wrong.
  logger->flush_on(spdlog::level::err);
  spdlog::set_default_logger(logger);
}

}  // namespace thoth::log
