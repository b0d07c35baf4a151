#include <gtest/gtest.h>

#include "correlator/parse.h"

namespace og::correlator {
namespace {

struct BadCase {
  const char* name;
  std::string payload;
  ParseError expected;
};

ParseFailure fail_with(EventParser& parser, const std::string& payload) {
  auto result = parser.parse(payload, RecordMeta{Symbol::intern("okta"), {}, 1});
  EXPECT_FALSE(result.has_value()) << payload;
  return result ? ParseFailure{} : result.error();
}

std::vector<BadCase> bad_cases() {
  return {
      {"empty", "", ParseError::empty},
      {"whitespace", " \n\t\r ", ParseError::empty},
      {"not json", "hello", ParseError::invalid_json},
      {"truncated", R"({"eventType":"a","actor":{"id":)", ParseError::invalid_json},
      {"truncated string", R"({"eventType":"a)", ParseError::invalid_json},
      {"unclosed root", R"({"eventType":"a")", ParseError::invalid_json},
      {"trailing garbage", R"({"eventType":"a"} xyz)", ParseError::trailing_content},
      {"second document", R"({"eventType":"a"}{"eventType":"b"})", ParseError::trailing_content},
      {"extra brace", R"({"eventType":"a"}})", ParseError::trailing_content},
      {"invalid utf8", "{\"eventType\":\"a\xff\"}", ParseError::invalid_utf8},
      {"overlong utf8", "{\"eventType\":\"\xc0\xaf\"}", ParseError::invalid_utf8},
      {"array", R"([{"eventType":"a"}])", ParseError::not_an_object},
      {"string", R"("eventType")", ParseError::not_an_object},
      {"number", "42", ParseError::not_an_object},
      {"null", "null", ParseError::not_an_object},
      {"broken scalar", "nul", ParseError::invalid_json},
      {"missing eventType", R"({"uuid":"u","published":"2024-01-01T00:00:00Z"})", ParseError::missing_field},
      {"null eventType", R"({"eventType":null})", ParseError::missing_field},
      {"eventType object", R"({"eventType":{"a":1}})", ParseError::wrong_type},
      {"eventType number", R"({"eventType":42})", ParseError::wrong_type},
      {"eventType boolean", R"({"eventType":true})", ParseError::wrong_type},
      {"actor a string", R"({"eventType":"a","actor":"bob"})", ParseError::wrong_type},
      {"target an object", R"({"eventType":"a","target":{"id":"x"}})", ParseError::wrong_type},
      {"lat not a number", R"({"eventType":"a","client":{"geographicalContext":{"geolocation":{"lat":"north"}}}})",
       ParseError::wrong_type},
      {"published a number", R"({"eventType":"a","published":1700000000})", ParseError::wrong_type},
      {"isProxy an array", R"({"eventType":"a","securityContext":{"isProxy":[]}})", ParseError::wrong_type},
      {"asNumber fraction", R"({"eventType":"a","securityContext":{"asNumber":1.5}})", ParseError::wrong_type},
      {"bad number", R"({"eventType":"a","securityContext":{"asNumber":12x}})", ParseError::invalid_json},
      {"deep", std::string(100, '[') + std::string(100, ']'), ParseError::too_deep},
      {"deep in object", R"({"eventType":"a","x":)" + std::string(65, '[') + std::string(65, ']') + "}",
       ParseError::too_deep},
  };
}

TEST(ParseErrors, EachBadInputHasItsReason) {
  auto parser = make_okta_parser(nullptr);
  for (const BadCase& c : bad_cases()) {
    ParseFailure failure = fail_with(*parser, c.payload);
    EXPECT_EQ(to_string(failure.error), to_string(c.expected)) << c.name << " (" << failure.detail << ")";
  }
}

TEST(ParseErrors, DetailNamesTheFieldNotTheContent) {
  auto parser = make_okta_parser(nullptr);
  ParseFailure failure = fail_with(*parser, R"({"eventType":"a","client":{"geographicalContext":{"geolocation":)"
                                            R"({"lat":"secret-value"}}}})");
  EXPECT_EQ(failure.error, ParseError::wrong_type);
  EXPECT_EQ(failure.detail, "client.geographicalContext.geolocation.lat");
  EXPECT_EQ(failure.detail.find("secret"), std::string::npos);
}

TEST(ParseErrors, SizeLimitIsConfigurable) {
  std::string payload = R"({"eventType":"a","displayMessage":")" + std::string(2000, 'x') + R"("})";
  auto small = make_okta_parser(nullptr, ParserLimits{1024, 64});
  EXPECT_EQ(fail_with(*small, payload).error, ParseError::too_large);
  auto roomy = make_okta_parser(nullptr, ParserLimits{4096, 64});
  EXPECT_TRUE(roomy->parse(payload, RecordMeta{}).has_value());
  // The default is 1 MiB.
  auto standard = make_okta_parser(nullptr);
  std::string big = R"({"eventType":"a","displayMessage":")" + std::string(1 << 20, 'x') + R"("})";
  EXPECT_EQ(fail_with(*standard, big).error, ParseError::too_large);
}

TEST(ParseErrors, DepthLimitCountsOnlyRealNesting) {
  auto parser = make_okta_parser(nullptr, ParserLimits{1 << 20, 8});
  // Brackets inside strings are text, not nesting.
  std::string brackets_in_text = R"({"eventType":"a","displayMessage":")" + std::string(100, '[') + R"("})";
  EXPECT_TRUE(parser->parse(brackets_in_text, RecordMeta{}).has_value());
  std::string eight = R"({"eventType":"a","x":)" + std::string(7, '[') + std::string(7, ']') + "}";
  EXPECT_TRUE(parser->parse(eight, RecordMeta{}).has_value());
  std::string nine = R"({"eventType":"a","x":)" + std::string(8, '[') + std::string(8, ']') + "}";
  EXPECT_EQ(fail_with(*parser, nine).error, ParseError::too_deep);
}

// The bracket count is taken while copying into the padded buffer, 32 bytes a step with a byte
// tail: the nesting must be found wherever it falls, for every length around a step, including
// after a longer message has left its bytes in the buffer.
TEST(ParseErrors, DepthLimitHoldsAtEveryOffsetOfTheCopy) {
  auto parser = make_okta_parser(nullptr, ParserLimits{1 << 20, 8});
  for (std::size_t pad = 0; pad < 80; ++pad) {
    std::string filler(pad, ' ');
    std::string eight = R"({"eventType":"a",)" + filler + R"("x":)" + std::string(7, '[') + std::string(7, ']') + "}";
    std::string nine = R"({"eventType":"a",)" + filler + R"("x":)" + std::string(8, '[') + std::string(8, ']') + "}";
    std::string nine_first =
        R"({"x":)" + std::string(8, '[') + std::string(8, ']') + "," + filler + R"("eventType":"a"})";
    EXPECT_TRUE(parser->parse(eight, RecordMeta{}).has_value()) << pad;
    EXPECT_EQ(fail_with(*parser, nine).error, ParseError::too_deep) << pad;
    EXPECT_EQ(fail_with(*parser, nine_first).error, ParseError::too_deep) << pad;
    EXPECT_TRUE(parser->parse(eight, RecordMeta{}).has_value()) << pad;
  }
}

TEST(ParseErrors, ParserRecoversAfterEveryFailure) {
  auto parser = make_okta_parser(nullptr);
  for (const BadCase& c : bad_cases()) {
    (void)parser->parse(c.payload, RecordMeta{});
    auto good = parser->parse(R"({"eventType":"after.failure","uuid":"u1"})", RecordMeta{});
    ASSERT_TRUE(good.has_value()) << "after " << c.name;
    EXPECT_EQ(good->uuid, "u1");
  }
}

TEST(ParseErrors, ReasonsAreStableStrings) {
  EXPECT_EQ(to_string(ParseError::empty), "empty");
  EXPECT_EQ(to_string(ParseError::too_large), "too_large");
  EXPECT_EQ(to_string(ParseError::invalid_json), "invalid_json");
  EXPECT_EQ(to_string(ParseError::trailing_content), "trailing_content");
  EXPECT_EQ(to_string(ParseError::invalid_utf8), "invalid_utf8");
  EXPECT_EQ(to_string(ParseError::too_deep), "too_deep");
  EXPECT_EQ(to_string(ParseError::not_an_object), "not_an_object");
  EXPECT_EQ(to_string(ParseError::wrong_type), "wrong_type");
  EXPECT_EQ(to_string(ParseError::missing_field), "missing_field");
}

}  // namespace
}  // namespace og::correlator
