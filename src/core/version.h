#pragma once
namespace thoth {
const char* version_string();
}
