// Safety properties of every policy function on arbitrary inputs decoded from bytes: results
// stay in their documented ranges, and nothing divides by zero or crashes. The policy runs
// inside server processes, where a crash restarts every backend.
//
// As a GoogleTest test it feeds seeded random byte strings. The same checks are a libFuzzer
// target when built with clang and -DQUEUE_POLICY_FUZZER, without CMake; from the
// repository root, with undefined-behaviour checks:
//
//   clang++ -std=c++17 -g -O1 -DQUEUE_POLICY_FUZZER -fsanitize=fuzzer,address,undefined
//           -fno-sanitize-recover=all -Iinclude test/unit/policy_fuzz_property_test.cpp
//           src/policy/*.cpp -lgtest -o policy_fuzzer
//   ./policy_fuzzer -max_total_time=60
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "queue/policy/estimate.hpp"
#include "queue/policy/limits.hpp"
#include "queue/policy/peak_windows.hpp"
#include "queue/policy/retry.hpp"
#include "queue/policy/time.hpp"

namespace queue::policy {
namespace {

// Reads fixed-size values from the input, zeros once it runs out.
class ByteReader {
 public:
  ByteReader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  template <typename T>
  T Read() {
    T value{};
    unsigned char bytes[sizeof(T)] = {};
    for (std::size_t i = 0; i < sizeof(T) && offset_ < size_; i++) bytes[i] = data_[offset_++];
    std::memcpy(&value, bytes, sizeof(T));
    return value;
  }

  bool Empty() const { return offset_ >= size_; }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t offset_ = 0;
};

// Returns an empty string when every property holds, else what broke.
std::string CheckPolicy(const std::uint8_t* data, std::size_t size) {
  ByteReader in(data, size);
  const Micros time = in.Read<Micros>();
  const Micros wrapped = WrapTimeOfDay(time);
  if (wrapped < 0 || wrapped >= kMicrosPerDay) return "WrapTimeOfDay out of range";
  (void)RoundToMicros(in.Read<double>());

  std::vector<PeakWindow> windows(in.Read<std::uint8_t>() % 8);
  for (PeakWindow& window : windows)
    window = PeakWindow{in.Read<Micros>() % (2 * kMicrosPerDay),
                        in.Read<Micros>() % (2 * kMicrosPerDay), in.Read<double>()};
  const double multiplier = PeakMultiplier(windows, time);
  bool covered = false;
  for (const PeakWindow& window : windows)
    covered |= IsValidWindow(window) && InWindow(window, time);
  if (IsPeak(windows, time) != covered) return "IsPeak disagrees with the windows";
  if (!(multiplier > 0.0 && multiplier <= kMaxPeakMultiplier)) return "PeakMultiplier out of range";
  if (!covered && multiplier != 1.0) return "PeakMultiplier off peak is not 1";

  const int base = in.Read<int>();
  if (ScaledLimit(base, in.Read<double>(), (in.Read<std::uint8_t>() & 1) != 0) < 0)
    return "ScaledLimit negative";
  const int requested = in.Read<int>();
  const int admissible =
      AdmissibleCount(requested, in.Read<int>(), in.Read<int>(), in.Read<std::int64_t>());
  if (admissible < 0 || admissible > std::max(requested, 0)) return "AdmissibleCount out of range";
  const int capacity = in.Read<int>();
  const int limit = in.Read<int>();
  const std::int64_t live = in.Read<std::int64_t>();
  const int share = FairShare(limit, capacity, live);
  if (share < 0 || share > std::max(capacity, 0)) return "FairShare out of range";

  const RetryPolicy retry{in.Read<Micros>(), in.Read<double>(), in.Read<Micros>()};
  const Micros delay = RetryDelay(retry, in.Read<int>());
  if (delay < 0 || delay > std::max<Micros>(retry.max_delay, 0)) return "RetryDelay out of range";
  if (MaxAttemptsForRetries(in.Read<int>()) < 1) return "MaxAttemptsForRetries below 1";

  const WaitInput wait_input{in.Read<std::int64_t>(), in.Read<int>(), in.Read<std::int64_t>(),
                             in.Read<Micros>()};
  const std::optional<Micros> wait = EstimateWait(wait_input);
  if (wait.has_value() != (wait_input.slots > 0)) return "EstimateWait without slots";
  if (wait && *wait < 0) return "EstimateWait negative";
  const RunTimeAverage average =
      AddSample(RunTimeAverage{in.Read<Micros>(), in.Read<std::int64_t>()}, in.Read<Micros>());
  if (average.mean < 0 || average.samples < 1) return "AddSample out of range";
  return "";
}

TEST(PolicyFuzzPropertyTest, RandomBytesKeepEveryResultInRange) {
  const char* text = std::getenv("QUEUE_PROPERTY_SEED");
  const std::uint64_t seed = text != nullptr ? std::strtoull(text, nullptr, 10) : 20261129;
  SCOPED_TRACE("QUEUE_PROPERTY_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::vector<std::uint8_t> bytes;
  for (int i = 0; i < 100000; i++) {
    bytes.resize(rng() % 400);
    // Mostly random bytes; sometimes all-0xff or all-0x00 runs for the extremes.
    const int style = static_cast<int>(rng() % 4);
    for (std::uint8_t& byte : bytes)
      byte = style == 0 ? 0xff : style == 1 ? 0x00 : static_cast<std::uint8_t>(rng());
    const std::string broken = CheckPolicy(bytes.data(), bytes.size());
    ASSERT_EQ(broken, "") << "input " << i << " of " << bytes.size() << " bytes";
  }
}

}  // namespace
}  // namespace queue::policy

#ifdef QUEUE_POLICY_FUZZER
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string broken = queue::policy::CheckPolicy(data, size);
  if (!broken.empty()) {
    std::fprintf(stderr, "policy property broken: %s\n", broken.c_str());
    std::abort();
  }
  return 0;
}
#endif
