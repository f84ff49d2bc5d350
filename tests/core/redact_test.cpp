// Credential masking (core/redact.h): URL userinfo in free text, known secrets, the registry, and a random-input
// check that nothing throws and no planted password survives.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "core/redact.h"

namespace itscam {

namespace {

struct Case {
    const char* in;
    const char* want;
};

}  // namespace

TEST(MaskUrlUserinfo, MasksThePasswordAndKeepsTheUser) {
    const Case cases[] = {
        {"rtsp://admin:s3cretPass@10.0.0.5:554/stream1", "rtsp://admin:***@10.0.0.5:554/stream1"},
        {"rtsps://admin:pw@cam.example/live", "rtsps://admin:***@cam.example/live"},
        {"http://u:p@host", "http://u:***@host"},
        {"https://user:pa%40ss@host:8443/x?y=1", "https://user:***@host:8443/x?y=1"},
        {"ftp://a:b@c/d", "ftp://a:***@c/d"},
        {"weird+scheme.v2://a:b@c", "weird+scheme.v2://a:***@c"},
        {"://a:b@c", "://a:***@c"},                  // no scheme at all: still masked
        {"RTSP://Admin:PW@HOST/", "RTSP://Admin:***@HOST/"},
        {"rtsp://:onlypass@host/x", "rtsp://:***@host/x"},  // empty user
        {"rtsp://admin:@host/x", "rtsp://admin:@host/x"},   // empty password: nothing to hide
        {"rtsp://@host/x", "rtsp://@host/x"},               // empty userinfo
        {"rtsp://admin:a:b:c@host/x", "rtsp://admin:***@host/x"},  // ':' in the password
        {"rtsp://admin:p@ss@host/x", "rtsp://admin:***@host/x"},   // raw '@' in the password: the last '@' splits
        {"rtsp://admin:pw@host", "rtsp://admin:***@host"},         // no path
        {"rtsp://admin:pw@host?x", "rtsp://admin:***@host?x"},
        {"rtsp://admin:pw@host#frag", "rtsp://admin:***@host#frag"},
    };
    for (const Case& c : cases) EXPECT_EQ(mask_url_userinfo(c.in), c.want) << c.in;
}

TEST(MaskUrlUserinfo, UserinfoWithoutPasswordIsMaskedWhole) {
    EXPECT_EQ(mask_url_userinfo("https://ghp_TOKEN123@github.com/x"), "https://***@github.com/x");
    EXPECT_EQ(mask_url_userinfo("rtsp://admin@host/x"), "rtsp://***@host/x");
}

TEST(MaskUrlUserinfo, LeavesUrlsWithoutUserinfoAlone) {
    const char* unchanged[] = {
        "rtsp://10.0.0.5:554/stream1",
        "rtsp://[::1]:554/x",                       // IPv6 host: its ':' are not userinfo
        "rtsp://[fe80::1%25eth0]:554/x",
        "http://host/path@with/at",                 // '@' in the path
        "http://host/p?email=a@b.c&x=y:z@w",        // '@' and ':' in the query
        "http://host#a:b@c",                        // in the fragment
        "http://host:8080",
        "file:///videos/a@b.mp4",                   // empty authority, '@' in the path
        "/videos/clip.mp4",
        "no url here: a@b c:d",
        "",
        ":/",
        "://",
        "a://",
    };
    for (const char* s : unchanged) EXPECT_EQ(mask_url_userinfo(s), s) << s;
}

TEST(MaskUrlUserinfo, SyntheticSourceIsNotUserinfo) {
    // synthetic://WxH@FPS (our test source) has an '@' in its authority that separates the frame rate.
    EXPECT_EQ(mask_url_userinfo("synthetic://640x480@25"), "synthetic://640x480@25");
    EXPECT_EQ(mask_url_userinfo("added (SYNTHETIC://64x64@5?frames=3)"), "added (SYNTHETIC://64x64@5?frames=3)");
    EXPECT_TRUE(url_secrets("synthetic://640x480@25").empty());
    // Only that scheme: a longer one ending in "synthetic" is an ordinary URL.
    EXPECT_EQ(mask_url_userinfo("xsynthetic://user:pw@h"), "xsynthetic://user:***@h");
    EXPECT_EQ(mask_url_userinfo("synthetic://a@b rtsp://u:pw@h"), "synthetic://a@b rtsp://u:***@h");
}

TEST(MaskUrlUserinfo, IPv6HostWithUserinfo) {
    EXPECT_EQ(mask_url_userinfo("rtsp://admin:pw@[::1]:554/x"), "rtsp://admin:***@[::1]:554/x");
    EXPECT_EQ(mask_url_userinfo("rtsp://admin:pw@[2001:db8::7]/x@y"), "rtsp://admin:***@[2001:db8::7]/x@y");
}

TEST(MaskUrlUserinfo, UrlsInFreeText) {
    EXPECT_EQ(mask_url_userinfo("rtsp://admin:pw@127.0.0.1:1/x: connection refused"),
              "rtsp://admin:***@127.0.0.1:1/x: connection refused");
    EXPECT_EQ(mask_url_userinfo("camera cam1: added (rtsp://admin:s3cret@cam/x)"),
              "camera cam1: added (rtsp://admin:***@cam/x)");
    EXPECT_EQ(mask_url_userinfo("[tcp @ 0x55] Connection to 'rtsp://a:b@h:554' failed"),
              "[tcp @ 0x55] Connection to 'rtsp://a:***@h:554' failed");
    EXPECT_EQ(mask_url_userinfo("{\"url\":\"rtsp://u:p@h\",\"who\":\"x@y\"}"), "{\"url\":\"rtsp://u:***@h\",\"who\":\"x@y\"}");
    EXPECT_EQ(mask_url_userinfo("<rtsp://u:p@h> mail me: me@example.com"), "<rtsp://u:***@h> mail me: me@example.com");
    EXPECT_EQ(mask_url_userinfo("two: rtsp://a:1@h/x and http://b:2@i/y."), "two: rtsp://a:***@h/x and http://b:***@i/y.");
    EXPECT_EQ(mask_url_userinfo("line1 rtsp://a:pw@h\nline2 http://b:pw2@i\ttab"),
              "line1 rtsp://a:***@h\nline2 http://b:***@i\ttab");
    // A URL that ends where the next begins ("...host:" then "//").
    EXPECT_EQ(mask_url_userinfo("x://abcrtsp://u:pw@h/"), "x://abcrtsp://u:***@h/");
    EXPECT_EQ(mask_url_userinfo("http://u:p@h:http://v:q@i/"), "http://u:***@h:http://v:***@i/");
}

TEST(MaskUrlUserinfo, IsIdempotent) {
    for (const char* s : {"rtsp://admin:s3cret@h/x", "https://tok@h/", "rtsp://a:p@ss@h/x y http://b:c@d"}) {
        const std::string once = mask_url_userinfo(s);
        EXPECT_EQ(mask_url_userinfo(once), once) << s;
    }
}

TEST(MaskUrlUserinfo, BinaryAndLongInput) {
    const std::string bin("rtsp://a:pw\xff@h\0tail rtsp://b:\x01x@h", 33);
    // Bytes above 0x7f belong to the password; a NUL or other control byte ends the authority (no '@' before it).
    EXPECT_EQ(mask_url_userinfo(bin), std::string("rtsp://a:***@h\0tail rtsp://b:\x01x@h", 33));
    std::string big(1 << 20, 'a');
    big += "rtsp://u:longpassword@h";
    EXPECT_EQ(mask_url_userinfo(big).find("longpassword"), std::string::npos);
}

TEST(RedactSecrets, ReplacesEveryOccurrence) {
    EXPECT_EQ(redact_secrets("token=abc123 again abc123.", {"abc123"}), "token=*** again ***.");
    EXPECT_EQ(redact_secrets("nothing here", {"abc123"}), "nothing here");
    EXPECT_EQ(redact_secrets("x", {}), "x");
    EXPECT_EQ(redact_secrets("", {"a"}), "");
    EXPECT_EQ(redact_secrets("abc", {""}), "abc");  // an empty secret hides nothing
}

TEST(RedactSecrets, OverlappingAndAdjacentBecomeOne) {
    EXPECT_EQ(redact_secrets("aaaa", {"aa"}), "***");
    EXPECT_EQ(redact_secrets("xsecretsecretx", {"secret"}), "x***x");
    EXPECT_EQ(redact_secrets("abcdef", {"abcd", "cdef"}), "***");
    EXPECT_EQ(redact_secrets("longsecret short", {"short", "longsecret"}), "*** ***");
}

TEST(RedactSecrets, NoNewSecretFormedByReplacement) {
    // Every secret is found in the original text, not in a partly replaced one: "xa" and "dy" are found although
    // replacing "bc" first would have broken no match here, and adjacent parts merge into one ***.
    const std::string out = redact_secrets("xabcdy", {"bc", "xa", "dy"});
    EXPECT_EQ(out, "***");
}

TEST(UrlSecrets, PasswordRawAndDecoded) {
    EXPECT_EQ(url_secrets("rtsp://admin:s3cret@h/x"), (std::vector<std::string>{"s3cret"}));
    EXPECT_EQ(url_secrets("rtsp://admin:p%40ss%2Fw@h/x"), (std::vector<std::string>{"p%40ss%2Fw", "p@ss/w"}));
    EXPECT_EQ(url_secrets("https://tok3n@h/"), (std::vector<std::string>{"tok3n"}));
    EXPECT_TRUE(url_secrets("rtsp://h/x").empty());
    EXPECT_TRUE(url_secrets("rtsp://admin:@h/x").empty());
    EXPECT_TRUE(url_secrets("/file.mp4").empty());
    EXPECT_EQ(url_secrets("rtsp://a:bad%zz%4@h"), (std::vector<std::string>{"bad%zz%4"}));
}

TEST(Registry, RedactUsesRegisteredSecretsAndMasksUrls) {
    register_secret("Registered-Tok3n-1");
    register_secret("abc");  // too short: not kept
    register_url_secrets("rtsp://admin:Cam%21Pass@h/x");
    const auto all = registered_secrets();
    EXPECT_NE(std::find(all.begin(), all.end(), "Registered-Tok3n-1"), all.end());
    EXPECT_EQ(std::find(all.begin(), all.end(), "abc"), all.end());
    EXPECT_NE(std::find(all.begin(), all.end(), "Cam!Pass"), all.end());
    EXPECT_EQ(redact("token Registered-Tok3n-1; decoded Cam!Pass; url rtsp://u:other@h/; abc"),
              "token ***; decoded ***; url rtsp://u:***@h/; abc");
    register_secret("Registered-Tok3n-1");  // once only
    EXPECT_EQ(registered_secrets().size(), all.size());
}

// Random texts around planted URLs: nothing throws, the planted password never survives, and masking twice equals
// masking once.
TEST(RedactFuzz, RandomTextNeverKeepsAPlantedPassword) {
    std::mt19937 rng(1234);
    const std::string alphabet = "ab:/@?#[]%. \"'<>\\`\n\t*-_~!$&()+,;=019\x01\xff";
    auto random_text = [&](size_t max_len) {
        std::uniform_int_distribution<size_t> len(0, max_len);
        std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
        std::string s(len(rng), ' ');
        for (char& c : s) c = alphabet[pick(rng)];
        return s;
    };
    // Characters a password may hold in a URL FFmpeg accepts (no authority delimiter).
    const std::string pw_chars = "abcXYZ019-._~!$&'()*+,;=%:@";
    const char* schemes[] = {"rtsp", "rtsps", "http", "https", "x", ""};
    const char* hosts[] = {"h", "10.0.0.1:554", "[::1]:8554", "[fe80::1]", "cam.example"};
    const char* tails[] = {"", "/", "/x@y", "?a=b@c", "#f", " ", "\n", "\"", ">"};
    for (int iter = 0; iter < 20000; ++iter) {
        std::uniform_int_distribution<int> pwlen(4, 16);
        std::uniform_int_distribution<size_t> pick(0, pw_chars.size() - 1);
        std::string pw = "P";  // starts with a letter that the random text never holds
        for (int i = pwlen(rng); i > 0; --i) pw += pw_chars[pick(rng)];
        const std::string scheme = schemes[rng() % std::size(schemes)];
        const std::string url = scheme + "://user:" + pw + "@" + hosts[rng() % std::size(hosts)] +
                                tails[rng() % std::size(tails)];
        // The text before the URL ends in a delimiter, so that it cannot extend the URL's scheme into an
        // authority of its own.
        const std::string text = random_text(40) + " " + url + random_text(40);
        std::string masked;
        ASSERT_NO_THROW(masked = mask_url_userinfo(text));
        ASSERT_EQ(masked.find(pw), std::string::npos) << "text: " << text << "\nmasked: " << masked;
        ASSERT_EQ(mask_url_userinfo(masked), masked) << text;
        std::string redacted;
        ASSERT_NO_THROW(redacted = redact_secrets(text, {pw}));
        ASSERT_EQ(redacted.find(pw), std::string::npos) << text;
        // Pure noise: never throws, never grows beyond 3 bytes per input byte.
        const std::string noise = random_text(200);
        std::string out;
        ASSERT_NO_THROW(out = mask_url_userinfo(noise));
        ASSERT_LE(out.size(), noise.size() * 3 + 3);
        ASSERT_NO_THROW(out = redact_secrets(noise, {"a", ":/", "@"}));
        ASSERT_EQ(out.find('@'), std::string::npos);
    }
}

}  // namespace itscam
