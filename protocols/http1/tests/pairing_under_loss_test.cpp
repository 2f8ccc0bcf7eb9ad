// Pairing across event loss: conversations whose chunks are dropped at random,
// as a full ring buffer drops them. A span may be missing (counted), never wrong.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "support/lossy_conversation.h"

namespace spanwire::testing {
namespace {

struct SeededFate {
  explicit SeededFate(uint32_t seed, double loss) : rng(seed), loss(loss) {
    fate.lost = [this] { return std::bernoulli_distribution(this->loss)(rng); };
    fate.pieces = [this] { return std::uniform_int_distribution<int>(1, 3)(rng); };
    fate.body_size = [this] { return std::uniform_int_distribution<int>(0, 2000)(rng); };
  }
  std::mt19937 rng;
  double loss;
  ChunkFate fate;
};

struct Case {
  int depth;
  double loss;
  bool midstream;
};

std::string describe(const Case& c, uint32_t seed) {
  return "depth " + std::to_string(c.depth) + ", loss " + std::to_string(c.loss) +
         (c.midstream ? ", midstream" : "") + ", seed " + std::to_string(seed);
}

TEST(PairingUnderLoss, RandomLossesNeverPairWrongNorInventAMissingAnswer) {
  const Case cases[] = {{1, 0.02, false}, {1, 0.10, false}, {1, 0.30, false}, {1, 0.10, true}, {2, 0.05, false}, {2, 0.5, true}, {1, 0.6, false},
                        {4, 0.02, false}, {4, 0.10, false}, {16, 0.05, false}, {4, 0.10, true}};
  for (const Case& c : cases) {
    for (uint32_t seed = 1; seed <= 40; ++seed) {
      SeededFate f(seed, c.loss);
      ConversationResult r = play_conversation({200, c.depth, c.midstream}, f.fate);
      EXPECT_EQ(r.wrong_pairs, 0) << describe(c, seed);
      EXPECT_EQ(r.false_no_answer, 0) << describe(c, seed);
    }
  }
}

// As the sensor's stream buffer delivers them: a direction's chunks behind a
// hole wait until the hole is given up, while the other direction flows on.
TEST(PairingUnderLoss, HolesLearnedLateNeverPairWrongNorInventAMissingAnswer) {
  const Case cases[] = {{1, 0.02, false}, {1, 0.10, false}, {1, 0.30, false}, {1, 0.10, true},
                        {2, 0.05, false}, {4, 0.10, false}, {16, 0.05, false}};
  for (const Case& c : cases) {
    for (uint32_t seed = 1; seed <= 40; ++seed) {
      for (double release : {0.05, 0.3, 0.9}) {
        SeededFate f(seed, c.loss);
        f.fate.release_held = [&f, release] { return std::bernoulli_distribution(release)(f.rng); };
        ConversationResult r = play_conversation({200, c.depth, c.midstream}, f.fate);
        EXPECT_EQ(r.wrong_pairs, 0) << describe(c, seed) << ", release " << release;
        EXPECT_EQ(r.false_no_answer, 0) << describe(c, seed) << ", release " << release;
      }
    }
  }
}

TEST(PairingUnderLoss, WithoutLossEveryExchangeComesOutRight) {
  for (int depth : {1, 3, 50}) {
    SeededFate f(7, 0.0);
    ConversationResult r = play_conversation({300, depth, false}, f.fate);
    EXPECT_EQ(r.exchanges.size(), 300u) << "depth " << depth;
    EXPECT_EQ(r.wrong_pairs, 0);
    EXPECT_EQ(r.stats.requests_unpaired_after_loss, 0u);
    EXPECT_EQ(r.stats.responses_unpaired_after_loss, 0u);
  }
}

// One request at a time (what browsers, curl and most clients do): after a loss
// pairing is proven again from positions, so most exchanges keep their span, and
// whatever is missing is counted.
TEST(PairingUnderLoss, OneAtATimeConnectionsRecoverAfterLoss) {
  uint64_t emitted = 0, counted = 0;
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    SeededFate f(seed, 0.05);
    ConversationResult r = play_conversation({500, 1, false}, f.fate);
    emitted += r.exchanges.size();
    counted += r.stats.requests_unpaired_after_loss;
  }
  EXPECT_GT(emitted, 20u * 500 * 6 / 10);  // a chunk lost costs about one exchange
  EXPECT_GT(counted, 0u);
}

// A pipelining connection cannot be re-paired with certainty after a loss: its
// pairing stays suspended, every request and response left out is counted.
TEST(PairingUnderLoss, PipeliningConnectionsStopPairingAfterALossAndCountIt) {
  SeededFate f(3, 0.05);
  ConversationResult r = play_conversation({400, 8, false}, f.fate);
  EXPECT_LT(r.exchanges.size(), 400u);
  EXPECT_GT(r.stats.requests_unpaired_after_loss, 0u);
  EXPECT_GT(r.stats.responses_unpaired_after_loss, 0u);
}

}  // namespace
}  // namespace spanwire::testing
