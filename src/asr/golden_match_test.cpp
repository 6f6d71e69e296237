#include "asr/golden_match.h"

#include <gtest/gtest.h>

namespace thoth::asr::golden {
namespace {

TEST(GoldenMatch, EditDistance) {
  EXPECT_EQ(edit_distance({}, {}), 0u);
  EXPECT_EQ(edit_distance({1, 2, 3}, {1, 2, 3}), 0u);
  EXPECT_EQ(edit_distance({1, 2, 3}, {1, 3}), 1u);        // deletion
  EXPECT_EQ(edit_distance({1, 2, 3}, {1, 2, 9, 3}), 1u);  // insertion
  EXPECT_EQ(edit_distance({1, 2, 3}, {1, 7, 3}), 1u);     // substitution
  EXPECT_EQ(edit_distance({1, 2, 3}, {}), 3u);
  EXPECT_EQ(edit_distance({4, 5, 6, 7}, {5, 6, 7, 4}), 2u);
}

TEST(GoldenMatch, ExactNeedsSameTokensAndBoundaries) {
  const std::vector<Seg> ref = {{320, 980, {1, 2, 3}}, {980, 2000, {4, 5}}};
  EXPECT_TRUE(compare(ref, ref, true).ok);
  auto moved = ref;
  moved[1].to_ms = 2020;
  EXPECT_FALSE(compare(ref, moved, true).ok);
  auto token = ref;
  token[0].text_ids[2] = 9;
  const auto m = compare(ref, token, true);
  EXPECT_FALSE(m.ok);
  EXPECT_NEAR(m.token_agreement, 0.8, 1e-12);
  const std::vector<Seg> merged = {{320, 2000, {1, 2, 3, 4, 5}}};
  EXPECT_FALSE(compare(ref, merged, true).ok);  // same tokens, other boundaries
}

TEST(GoldenMatch, QuantizedNeedsNinetyPercentAndSameSegmentCount) {
  std::vector<Seg> ref = {{0, 1000, {}}, {1000, 2000, {}}};
  for (int i = 0; i < 10; ++i) ref[0].text_ids.push_back(i), ref[1].text_ids.push_back(100 + i);
  auto ours = ref;
  ours[0].from_ms = 20;          // boundaries may move
  ours[1].text_ids[3] = 7777;    // 1 of 20 tokens differs: 95 %
  ours[0].text_ids.pop_back();   // 2 of 20: 90 %
  auto m = compare(ref, ours, false);
  EXPECT_TRUE(m.ok) << m.detail;
  EXPECT_NEAR(m.token_agreement, 0.9, 1e-12);
  ours[1].text_ids[4] = 7777;    // 85 %
  EXPECT_FALSE(compare(ref, ours, false).ok);
  EXPECT_FALSE(compare(ref, {ref[0]}, false).ok);  // a segment missing
}

}  // namespace
}  // namespace thoth::asr::golden
