// Robustness: mutated configs and hostile inputs must give a config or an error, never a crash, hang or exception.
#include <cstdint>
#include <cstdlib>

#include "config_test_util.h"

namespace itscam::config {
namespace {

// splitmix64: the same sequence on every platform and standard library.
class Rng {
  public:
    explicit Rng(uint64_t seed) : s_(seed) {}
    uint64_t next() {
        uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    size_t below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(next() % n); }

  private:
    uint64_t s_;
};

std::string mutate(std::string text, Rng& rng) {
    static const char* kPunctuation[] = {
        ":",        "-",       "[",  "]",    "{",    "}",  ",",       "&a ",
        "*a",       "!",       "|",  ">",    "'",    "\"", "#",       "?",
        "%",        "@",       "`",  "\n",   "  ",   "\t", "\n---\n", "\n...\n",
        "<<: ",     "&x [*x]", "\\", "\x00", "\xff", "~",  "1e999",   "-9999999999999999999",
        "!!binary "};
    const size_t n_mutations = 1 + rng.below(4);
    for (size_t m = 0; m < n_mutations; ++m) {
        const size_t pos = rng.below(text.size() + 1);
        switch (rng.below(6)) {
            case 0:  // byte flip
                if (!text.empty()) text[std::min(pos, text.size() - 1)] = static_cast<char>(rng.below(256));
                break;
            case 1:  // truncation
                text.resize(pos);
                break;
            case 2:
            case 3: {  // YAML punctuation
                const char* p = kPunctuation[rng.below(std::size(kPunctuation))];
                text.insert(pos, p[0] == '\0' ? std::string(1, '\0') : std::string(p));
                break;
            }
            case 4: {  // delete a range
                const size_t len = rng.below(40);
                text.erase(pos, len);
                break;
            }
            default: {  // copy a range elsewhere (duplicate keys, misplaced blocks)
                const size_t from = rng.below(text.size() + 1);
                const std::string piece = text.substr(from, rng.below(80));
                text.insert(pos, piece);
                break;
            }
        }
    }
    return text;
}

// The contract every input must meet.
void check_input(const std::string& text, size_t* ok_count) {
    Result<Config> r = internal_error("not run");
    try {
        r = parse_config(text, "fuzz.yaml");
    } catch (...) {
        ADD_FAILURE() << "parse_config threw on:\n" << text;
        return;
    }
    if (!r.is_ok()) {
        const std::string& msg = r.status().message();
        EXPECT_NE(msg.find(':'), std::string::npos) << msg;
        EXPECT_EQ(msg.rfind("fuzz.yaml", 0), 0u) << msg;
        EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << msg << "\ninput:\n" << text;
        return;
    }
    if (ok_count != nullptr) ++*ok_count;
    // Whatever was accepted is valid and prints (secrets revealed) to text that reads back the same.
    EXPECT_TRUE(validate(*r).is_ok()) << validate(*r).message();
    const std::string printed = to_yaml(*r, Secrets::kReveal);
    const Result<Config> again = parse_config(printed, "printed.yaml");
    ASSERT_TRUE(again.is_ok()) << again.status().message() << "\ninput:\n" << text << "\nprinted:\n" << printed;
    EXPECT_EQ(*again, *r) << "input:\n" << text << "\nprinted:\n" << printed;
}

TEST(ConfigFuzz, MutatedExampleNeverCrashes) {
    ITSCAM_REQUIRE_YAML();
    const std::string base = test::read_text(test::source_path("configs/example.yaml"));
    ASSERT_FALSE(base.empty());
    const std::string smoke = test::read_text(test::source_path("configs/ci-smoke.yaml"));
    Rng rng(20240611);
    size_t ok = 0;
    // ITSCAM_CONFIG_FUZZ_ITERATIONS: fewer under the sanitizers in CI (.ci/run), where each is ~3x slower.
    const char* env_n = std::getenv("ITSCAM_CONFIG_FUZZ_ITERATIONS");
    const int kIterations = env_n && std::atoi(env_n) >= 500 ? std::atoi(env_n) : 20000;
    for (int i = 0; i < kIterations; ++i) {
        const std::string text = mutate(i % 4 == 3 ? smoke : base, rng);
        check_input(text, &ok);
        if (i % 8 == 0) {
            try {
                const Result<CameraConfig> cam = parse_camera(text, "fuzz");
                if (!cam.is_ok()) {
                    EXPECT_NE(cam.status().message().find(':'), std::string::npos);
                }
            } catch (...) {
                ADD_FAILURE() << "parse_camera threw on:\n" << text;
            }
        }
        if (HasFailure()) break;  // one reported input is enough
    }
    // The mutations are neither all harmless nor all fatal (else the test would prove little).
    EXPECT_GT(ok, static_cast<size_t>(kIterations / 50));
    EXPECT_LT(ok, static_cast<size_t>(kIterations * 9 / 10));
    std::printf("fuzz: %zu of %d mutated configs accepted\n", ok, kIterations);
}

TEST(ConfigFuzz, HostileInputs) {
    ITSCAM_REQUIRE_YAML();
    std::vector<std::string> inputs = {
        std::string(100000, '['),
        std::string(100000, '{'),
        "a: " + std::string(50000, '[') + std::string(50000, ']'),
        [] {
            std::string s;
            for (int i = 0; i < 5000; ++i) s += std::string(static_cast<size_t>(i % 200), ' ') + "- \n";
            return s;
        }(),
        [] {
            std::string s = "server:\n";
            for (int i = 0; i < 3000; ++i) s += std::string(static_cast<size_t>(2 + i), ' ') + "k:\n";
            return s;
        }(),
        std::string(20000, '-') + " x",
        [] {
            std::string s;
            for (int i = 0; i < 3000; ++i) s += "- ";
            return s + "x";
        }(),
        // Billion laughs: aliases share nodes, nothing expands.
        "a: &a [x, x, x, x, x, x, x, x, x]\n"
        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
        "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n",
        "server: &a [*a, *a]\n",  // a cycle through an alias
        "alerts: &a {x: *a}\n",
        "cameras: &a [*a]\n",
        "pipeline: &p {preferred_batch_sizes: *p}\n",
        "streaming: &s [1, 2]\nserver: *s\n",
        "MEMORY_POOL_SIZE: " + std::string(100000, '9') + "\n",
        "TOTAL_GPU_MEMORY_GB: 0." + std::string(100000, '1') + "\n",
        "TOTAL_GPU_MEMORY_GB: 1e-99999\n",
        std::string(100000, 'A') + ": 1\n",
        "device_ids: [" +
            [] {
                std::string s;
                for (int i = 0; i < 20000; ++i) s += std::to_string(i) + ",";
                return s + "20000";
            }() +
            "]\n",
        "\xef\xbb\xbfMEMORY_POOL_SIZE: 4\n",  // UTF-8 BOM
        "\xff\xfe"
        "M\0E\0M\0",
        std::string("MEMORY_POOL_SIZE: 4\0\n", 21),
        "%YAML 1.2\n%TAG ! tag:x,2000:\n--- !foo\nMEMORY_POOL_SIZE: !!str 4\n",
        "? [complex, key]\n: value\n",
        "<<: {MEMORY_POOL_SIZE: 3}\n",
        "!!binary aGVsbG8=\n",
        "&anchor\n",
        "*alias\n",
        "'\n",
        "\"\\u\"\n",
        "|\n  text\n",
        "MEMORY_POOL_SIZE: 4\n---\n---\n---\n",
        "\t",
        "\r\n\r\n",
        "\0",
    };
    std::string garbage;
    Rng rng(7);
    for (int i = 0; i < 4096; ++i) garbage += static_cast<char>(rng.below(256));
    inputs.push_back(garbage);
    for (int c = 0; c < 256; ++c) inputs.emplace_back(1, static_cast<char>(c));
    for (const std::string& text : inputs) {
        check_input(text, nullptr);
        try {
            const Result<CameraConfig> cam = parse_camera(text, "fuzz");
            if (!cam.is_ok()) {
                EXPECT_NE(cam.status().message().find(':'), std::string::npos);
            }
        } catch (...) {
            ADD_FAILURE() << "parse_camera threw on: " << text.substr(0, 200);
        }
    }
}

}  // namespace
}  // namespace itscam::config
