#include "images/image.hpp"

#include <nlohmann/json.hpp>

#include "common/clock.hpp"

namespace svc::images {

using json = nlohmann::json;

namespace {

json platform_json(const Platform& p) {
  return json{{"os", p.os}, {"architecture", p.architecture}, {"variant", p.variant}};
}

}  // namespace

std::string image_to_json(const Image& im) {
  json layers = json::array();
  for (const auto& l : im.layers)
    layers.push_back(json{{"digest", l.digest.str()},
                          {"diff_id", l.diff_id.str()},
                          {"chain_id", l.chain_id.str()},
                          {"size", l.size},
                          {"unpacked_size", l.unpacked_size},
                          {"media_type", l.media_type}});
  const auto& c = im.config;
  json config{
      {"entrypoint", c.entrypoint},   {"cmd", c.cmd},      {"env", c.env},
      {"workdir", c.workdir},         {"user", c.user},    {"exposed_ports", c.exposed_ports},
      {"stop_signal", c.stop_signal}, {"labels", c.labels}};
  json j{{"version", 1},
         {"references", im.references},
         {"digest", im.digest.str()},
         {"index_digest", im.index_digest ? im.index_digest->str() : std::string()},
         {"media_type", im.media_type},
         {"config_digest", im.config_digest.str()},
         {"platform", platform_json(im.platform)},
         {"layers", std::move(layers)},
         {"config", std::move(config)},
         {"size", im.size},
         {"unpacked_size", im.unpacked_size},
         {"created_ms", im.created ? unix_millis(*im.created) : std::int64_t{-1}},
         {"pulled_at_ms", unix_millis(im.pulled_at)}};
  return j.dump(2) + "\n";
}

Result<Image> image_from_json(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return fail(Code::kDataLoss, "image record is not a JSON object");
  try {
    Image im;
    im.references = j.at("references").get<std::vector<std::string>>();
    im.digest = SVC_TRY(Digest::parse(j.at("digest").get<std::string>()));
    if (auto s = j.value("index_digest", std::string()); !s.empty())
      im.index_digest = SVC_TRY(Digest::parse(s));
    im.media_type = j.value("media_type", std::string());
    im.config_digest = SVC_TRY(Digest::parse(j.at("config_digest").get<std::string>()));
    const auto& p = j.at("platform");
    im.platform = Platform{p.value("os", ""), p.value("architecture", ""), p.value("variant", "")};
    for (const auto& l : j.at("layers")) {
      LayerInfo li;
      li.digest = SVC_TRY(Digest::parse(l.at("digest").get<std::string>()));
      li.diff_id = SVC_TRY(Digest::parse(l.at("diff_id").get<std::string>()));
      li.chain_id = SVC_TRY(Digest::parse(l.at("chain_id").get<std::string>()));
      li.size = l.value("size", std::int64_t{0});
      li.unpacked_size = l.value("unpacked_size", std::int64_t{0});
      li.media_type = l.value("media_type", std::string());
      im.layers.push_back(std::move(li));
    }
    const auto& c = j.at("config");
    im.config.entrypoint = c.value("entrypoint", std::vector<std::string>{});
    im.config.cmd = c.value("cmd", std::vector<std::string>{});
    im.config.env = c.value("env", std::vector<std::string>{});
    im.config.workdir = c.value("workdir", std::string());
    im.config.user = c.value("user", std::string());
    im.config.exposed_ports = c.value("exposed_ports", std::vector<std::string>{});
    im.config.stop_signal = c.value("stop_signal", std::string());
    im.config.labels = c.value("labels", std::map<std::string, std::string>{});
    im.size = j.value("size", std::int64_t{0});
    im.unpacked_size = j.value("unpacked_size", std::int64_t{0});
    if (auto ms = j.value("created_ms", std::int64_t{-1}); ms >= 0)
      im.created = from_unix_millis(ms);
    im.pulled_at = from_unix_millis(j.value("pulled_at_ms", std::int64_t{0}));
    return im;
  } catch (const json::exception& e) {
    return fail(Code::kDataLoss, "image record: {}", e.what());
  }
}

}  // namespace svc::images
