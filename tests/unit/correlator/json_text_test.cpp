#include "correlator/json_text.h"

#include <gtest/gtest.h>

namespace og::correlator {
namespace {

TEST(JsonText, EscapesQuotesBackslashesAndControlCharactersOnly) {
  EXPECT_EQ(json_quote(R"(a"b\c)"), R"("a\"b\\c")");
  EXPECT_EQ(json_quote("x\ny\r\tz\x01\x1f"), R"("x\ny\r\tz\u0001\u001f")");
  EXPECT_EQ(json_quote("Zürich /api/v1"), "\"Zürich /api/v1\"") << "UTF-8 and slashes stay as they are";
  EXPECT_EQ(json_quote(std::string_view("a\0b", 3)), R"("a\u0000b")");
  std::string out = "[";
  append_json_string(out, "");
  EXPECT_EQ(out, R"(["")");
}

}  // namespace
}  // namespace og::correlator
