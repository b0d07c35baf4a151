#include <gtest/gtest.h>

#include "okta_client/version.h"

TEST(OktaClient, UserAgentNamesTheProduct) { EXPECT_TRUE(og::okta::user_agent().starts_with("oktaguard/")); }
