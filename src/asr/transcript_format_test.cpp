#include "asr/transcript_format.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace thoth::asr {
namespace {

Transcript sample() {
  Transcript t;
  t.language = "de";
  t.language_prob = 0.75f;
  t.timings = {12.5, 3.0, 40.0, 20.0};
  Segment a;
  a.start_ms = 320;
  a.end_ms = 3723456;
  a.text = " Grüße, \"Welt\"";
  a.tokens = {{1642, 0.25f, " Grü", 320, 900}, {50412, 0.5f, "[_TT_49]", 900, 980}};
  Segment b;
  b.start_ms = 3723456;
  b.end_ms = 3725000;
  b.text = " zwei ";
  t.segments = {a, b};
  return t;
}

TEST(TranscriptFormat, Timestamps) {
  EXPECT_EQ(format_timestamp(0, ','), "00:00:00,000");
  EXPECT_EQ(format_timestamp(3723456, ','), "01:02:03,456");
  EXPECT_EQ(format_timestamp(3723456, '.'), "01:02:03.456");
  EXPECT_EQ(format_timestamp(-5, '.'), "00:00:00.000");
}

TEST(TranscriptFormat, TextIsOneTrimmedLinePerSegment) {
  EXPECT_EQ(format_transcript(sample(), TranscriptFormat::Text), "Grüße, \"Welt\"\nzwei\n");
  EXPECT_EQ(format_transcript(Transcript{}, TranscriptFormat::Text), "");
}

TEST(TranscriptFormat, SrtCues) {
  EXPECT_EQ(format_transcript(sample(), TranscriptFormat::Srt),
            "1\n00:00:00,320 --> 01:02:03,456\nGrüße, \"Welt\"\n\n"
            "2\n01:02:03,456 --> 01:02:05,000\nzwei\n\n");
}

TEST(TranscriptFormat, VttCues) {
  EXPECT_EQ(format_transcript(sample(), TranscriptFormat::Vtt),
            "WEBVTT\n\n00:00:00.320 --> 01:02:03.456\nGrüße, \"Welt\"\n\n"
            "01:02:03.456 --> 01:02:05.000\nzwei\n\n");
}

TEST(TranscriptFormat, JsonHasExactlyTheDocumentedShape) {
  const std::string s = format_transcript(sample(), TranscriptFormat::Json);
  ASSERT_EQ(s.back(), '\n');
  const auto j = nlohmann::json::parse(s);
  EXPECT_EQ(j.size(), 4u);
  EXPECT_EQ(j["language"], "de");
  EXPECT_FLOAT_EQ(j["language_prob"].get<float>(), 0.75f);
  ASSERT_EQ(j["segments"].size(), 2u);
  const auto& s0 = j["segments"][0];
  EXPECT_EQ(s0.size(), 4u);
  EXPECT_EQ(s0["start_ms"], 320);
  EXPECT_EQ(s0["end_ms"], 3723456);
  EXPECT_EQ(s0["text"], " Grüße, \"Welt\"");
  ASSERT_EQ(s0["tokens"].size(), 2u);
  EXPECT_EQ(s0["tokens"][0].size(), 5u);
  EXPECT_EQ(s0["tokens"][0]["start_ms"], 320);
  EXPECT_EQ(s0["tokens"][0]["end_ms"], 900);
  EXPECT_EQ(s0["tokens"][0]["id"], 1642);
  EXPECT_FLOAT_EQ(s0["tokens"][0]["p"].get<float>(), 0.25f);
  EXPECT_EQ(s0["tokens"][1]["text"], "[_TT_49]");
  EXPECT_TRUE(j["segments"][1]["tokens"].empty());
  const auto& tm = j["timings_ms"];
  EXPECT_EQ(tm.size(), 4u);
  EXPECT_DOUBLE_EQ(tm["load"].get<double>(), 12.5);
  EXPECT_DOUBLE_EQ(tm["mel"].get<double>(), 3.0);
  EXPECT_DOUBLE_EQ(tm["encode"].get<double>(), 40.0);
  EXPECT_DOUBLE_EQ(tm["decode"].get<double>(), 20.0);
}

}  // namespace
}  // namespace thoth::asr
