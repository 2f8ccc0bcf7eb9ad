// Secrets in URLs never leave the host: OpenTelemetry's HTTP conventions
// (url.full without credentials; sensitive query values as REDACTED).
#include "http/url_redaction.h"

#include <gtest/gtest.h>

namespace spanwire {
namespace {

TEST(UrlRedaction, TheConventionsListAndOursAreRedactedByDefault) {
  const UrlRedaction r;
  EXPECT_EQ(r.query("AWSAccessKeyId=AKIA1&Signature=s1&sig=s2&X-Goog-Signature=s3&X-Amz-Signature=s4"),
            "AWSAccessKeyId=REDACTED&Signature=REDACTED&sig=REDACTED&X-Goog-Signature=REDACTED&"
            "X-Amz-Signature=REDACTED");
  EXPECT_EQ(r.query("api_key=k&token=t&access_token=a&password=p&secret=s&page=2"),
            "api_key=REDACTED&token=REDACTED&access_token=REDACTED&password=REDACTED&secret=REDACTED&page=2");
}

TEST(UrlRedaction, NamesMatchWhateverTheirCaseOrEncoding) {
  const UrlRedaction r;
  EXPECT_EQ(r.query("SIG=1&Api_Key=2&si%67=3&api%5Fkey=4&x=5"), "SIG=REDACTED&Api_Key=REDACTED&si%67=REDACTED&"
                                                               "api%5Fkey=REDACTED&x=5");
}

TEST(UrlRedaction, OnlyValuesChangeAndTheShapeStays) {
  const UrlRedaction r;
  EXPECT_EQ(r.query(""), "");
  EXPECT_EQ(r.query("sig"), "sig");  // no value to hide
  EXPECT_EQ(r.query("sig="), "sig=REDACTED");
  EXPECT_EQ(r.query("a=1;sig=x;b"), "a=1;sig=REDACTED;b");
  EXPECT_EQ(r.query("&&sig=x&"), "&&sig=REDACTED&");
  EXPECT_EQ(r.query("q=sig%3Dx"), "q=sig%3Dx");  // a value that mentions a name is not a name
}

TEST(UrlRedaction, ConfiguredNamesAddToTheDefaults) {
  const UrlRedaction r({"session", "X-Tenant-Key"});
  EXPECT_EQ(r.query("session=abc&x-tenant-key=1&sig=2&page=3"),
            "session=REDACTED&x-tenant-key=REDACTED&sig=REDACTED&page=3");
}

TEST(UrlRedaction, FullUrlLosesItsCredentialsAndSensitiveValues) {
  const UrlRedaction r;
  EXPECT_EQ(r.full_url("http://user:PASS@host:8080/p?sig=1&a=2#frag"),
            "http://REDACTED:REDACTED@host:8080/p?sig=REDACTED&a=2#frag");
  EXPECT_EQ(r.full_url("https://user@host/"), "https://REDACTED:REDACTED@host/");
  EXPECT_EQ(r.full_url("http://host/p?x=1"), "http://host/p?x=1");
  EXPECT_EQ(r.full_url("http://host/a@b?token=t"), "http://host/a@b?token=REDACTED");  // '@' in the path is no userinfo
  EXPECT_EQ(r.full_url("http://host?sig=1"), "http://host?sig=REDACTED");
  EXPECT_EQ(r.full_url("http://host/#x?sig=1"), "http://host/#x?sig=1");  // in the fragment: not a query
}

}  // namespace
}  // namespace spanwire
