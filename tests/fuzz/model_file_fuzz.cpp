// model_file_fuzz.cpp — libFuzzer target: gpt::model::from_bytes on model files
// built from the input and then damaged, and on the raw input itself.
//
// A file is a header (magic, the eight config fields) and fp32 weights. The
// input picks the config fields (mostly small, now and then any 32-bit value:
// sizes whose byte count wraps at 2^32, negative as ints), fills the weights
// from its bytes (NaN, infinities and huge values included) when there are at
// most 2^16 of them, and may then damage the file: a byte of the header or the
// magic changed, the file cut short or given trailing bytes. Or the raw input
// is the file. from_bytes must either refuse it with memlab::invalid_argument,
// or load it such that:
//   - to_bytes() gives back exactly the file (every weight where it belongs),
//   - the model's config is the header's and parameter_count() agrees with
//     the file's size,
//   - with weights of at most 4 in magnitude, the next-token logits of a short
//     prompt are finite.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/error.hpp"
#include "fuzz_input.hpp"
#include "model/gpt.hpp"

namespace memlab::fuzz {
namespace {

void check_loaded(const std::vector<std::uint8_t>& file) {
  const gpt::model m = gpt::model::from_bytes(file);
  if (m.to_bytes() != file) fail("model file: to_bytes() differs from the file loaded");
  const gpt::config& c = m.cfg();
  std::uint32_t header[8];
  std::memcpy(header, file.data() + 8, sizeof header);
  const std::uint32_t fields[8] = {std::uint32_t(c.layers), std::uint32_t(c.d_model),
                                   std::uint32_t(c.heads),  std::uint32_t(c.kv_heads),
                                   std::uint32_t(c.d_ff),   std::uint32_t(c.max_seq),
                                   c.tied ? 1u : 0u,        256u};
  for (int i = 0; i < 8; ++i)
    if (fields[i] != header[i] && !(i == 6 && header[i] != 0))
      fail("model file: config field " + std::to_string(i) + " differs from the header");
  if (40 + 4 * m.parameter_count() != file.size())
    fail("model file: parameter_count() disagrees with the file size");
  bool small = true;
  for (std::size_t i = 40; i + 4 <= file.size(); i += 4) {
    float w;
    std::memcpy(&w, file.data() + i, 4);
    small = small && std::abs(w) <= 4;
  }
  if (small) {
    const tensor<1> logits = m.next_logits({1, 2, 3});
    for (float x : logits)
      if (!std::isfinite(x)) fail("model file: a non-finite logit from weights within [-4, 4]");
  }
}

}  // namespace

int fuzz_model_file(const std::uint8_t* data, std::size_t size) {
  input in{data, size};
  std::vector<std::uint8_t> file;
  if (in.byte() < 32) {
    file.assign(data + in.pos, data + size);  // the raw input
  } else {
    const std::uint32_t fields[8] = {
        std::uint32_t(in.size_in(1, 3)),  std::uint32_t(in.size_in(1, 8)) * 2u,
        std::uint32_t(in.size_in(1, 2)),  std::uint32_t(in.size_in(1, 2)),
        std::uint32_t(in.size_in(1, 16)), std::uint32_t(in.size_in(1, 8)),
        std::uint32_t(in.byte() % 2),     in.byte() < 8 ? in.u32() : 256u};
    const char magic[] = "MLABGPT1";
    file.assign(magic, magic + 8);
    const auto* f = reinterpret_cast<const std::uint8_t*>(fields);
    file.insert(file.end(), f, f + sizeof fields);
    // The weights the header asks for, in 64 bits (no allocation past 2^16).
    const std::uint64_t d = fields[1],
                        kv = std::uint64_t(fields[3]) * (d / std::max(1u, fields[2]));
    const std::uint64_t layer = 2 * d + 2 * d * d + 2 * d * kv + 2 * d * fields[4];
    const std::uint64_t n =
        256 * d + std::uint64_t(fields[5]) * d + fields[0] * layer + d + (fields[6] ? 0 : 256 * d);
    if (n <= (1u << 16))
      for (std::uint64_t i = 0; i < n; ++i) {
        const float w = in.value();
        const auto* b = reinterpret_cast<const std::uint8_t*>(&w);
        file.insert(file.end(), b, b + 4);
      }
    switch (in.byte() % 8) {  // damage, sometimes
      case 0:
        file[in.below(file.size())] ^= std::uint8_t(1 + in.byte() % 255);
        break;
      case 1:
        file.resize(in.below(file.size() + 1));
        break;
      case 2:
        file.insert(file.end(), 1 + in.byte() % 8, 0);
        break;
      default:
        break;
    }
  }
  try {
    check_loaded(file);
  } catch (const memlab::invalid_argument&) {
    // refused, naming what is wrong
  }
  return 0;
}

}  // namespace memlab::fuzz

#ifdef MEMLAB_LIBFUZZER
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return memlab::fuzz::fuzz_model_file(data, size);
}
#endif
