package io.jitdi.jit;

import io.jitdi.cache.MetadataStore;
import io.jitdi.config.ImageRuleConfig.Compression;
import io.jitdi.jit.compose.Composer;
import io.jitdi.oci.Digest;
import io.jitdi.oci.MediaType;
import io.jitdi.oci.RepositoryName;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What the JIT images remember, typed, in the metadata store (blocking: call on the IO pool). Each record has one
 * key prefix and one JSON codec; the stored JSON is the format caches already hold.
 *
 * <ul>
 *   <li>{@code t|<image>} {@link TagAnswer}: the last answer for a tag and when it was checked.</li>
 *   <li>{@code b|<key>} {@link BuildRecord}: what a build key made (top manifest, layers by files identity).</li>
 *   <li>{@code r|<digest>} {@link Recipe}: how to build a blob jitdi made again, once it is evicted.</li>
 *   <li>{@code o|<digest>} {@link BlobOrigin}: where a base image's blob comes from.</li>
 *   <li>{@code a|<digest>} {@link Placement}: where an artifact blob's bytes are inside a built layer.</li>
 *   <li>{@code x|<digest>} {@link TarIndex}: where the files of an artifact's tar blob are inside a built layer.</li>
 *   <li>{@code l|<compression>|<files identity>} {@link Composer.Layer}: the layer any build made of those files,
 *       whatever its base or image, so another image of the same model reuses it without reading a source.</li>
 * </ul>
 */
final class JitRecords {
  /** The answer for a tag: the build key and top manifest, checked at {@code checkedAt} (epoch ms). */
  record TagAnswer(Digest key, Digest manifest, long checkedAt) {
    JsonObject toJson() {
      return new JsonObject().put("key", key.hex()).put("digest", manifest.toString()).put("checkedAt", checkedAt);
    }

    static TagAnswer of(JsonObject json) {
      return new TagAnswer(Digest.parse(Digest.SHA256 + ":" + json.getString("key")),
          Digest.parse(json.getString("digest")), json.getLong("checkedAt"));
    }
  }

  /** What a build key made: its top manifest, its layers by files identity, and when. */
  record BuildRecord(Digest manifest, String image, Map<String, Composer.Layer> layers, long builtAt) {
    JsonObject toJson() {
      JsonObject json = new JsonObject();
      layers.forEach((identity, l) -> json.put(identity, layerJson(l)));
      return new JsonObject().put("digest", manifest.toString()).put("image", image).put("layers", json)
          .put("builtAt", builtAt);
    }

    static BuildRecord of(JsonObject json) {
      Map<String, Composer.Layer> layers = new LinkedHashMap<>();
      JsonObject stored = json.getJsonObject("layers", new JsonObject());
      for (String identity : stored.fieldNames()) {
        layers.put(identity, layerOf(stored.getJsonObject(identity)));
      }
      return new BuildRecord(Digest.parse(json.getString("digest")), json.getString("image"), layers,
          json.getLong("builtAt", 0L));
    }
  }

  private static JsonObject layerJson(Composer.Layer l) {
    return new JsonObject().put("mediaType", l.mediaType().value()).put("digest", l.digest().toString())
        .put("size", l.size()).put("diffId", l.diffId().toString());
  }

  private static Composer.Layer layerOf(JsonObject l) {
    return new Composer.Layer(MediaType.of(l.getString("mediaType")), Digest.parse(l.getString("digest")),
        l.getLong("size"), Digest.parse(l.getString("diffId")));
  }

  /** How to make a blob again: the image (registry/name:tag) and the build key that made it. */
  record Recipe(String image, Digest key) {
    JsonObject toJson() {
      return new JsonObject().put("image", image).put("key", key.hex());
    }

    static Recipe of(JsonObject json) {
      return new Recipe(json.getString("image"), Digest.parse(Digest.SHA256 + ":" + json.getString("key")));
    }
  }

  /** Where a base image's blob comes from. */
  record BlobOrigin(String upstream, RepositoryName repository) {
    JsonObject toJson() {
      return new JsonObject().put("upstream", upstream).put("repository", repository.value());
    }

    static BlobOrigin of(JsonObject json) {
      return new BlobOrigin(json.getString("upstream"), RepositoryName.parse(json.getString("repository")));
    }
  }

  /** An artifact blob's bytes as bytes {@code [offset, offset + size)} of the uncompressed layer {@code layer}. */
  record Placement(Digest layer, long offset, long size) {
    JsonObject toJson() {
      return new JsonObject().put("layer", layer.toString()).put("offset", offset).put("size", size);
    }

    static Placement of(JsonObject json) {
      return new Placement(Digest.parse(json.getString("layer")), json.getLong("offset"), json.getLong("size"));
    }
  }

  /**
   * Every file of an artifact's tar blob, as bytes of the uncompressed layer {@code layer}: a later build of other
   * files of the same artifact reads them there once the tar blob is dropped.
   */
  record TarIndex(Digest layer, List<TarFile> files) {
    TarIndex {
      files = List.copyOf(files);
    }

    JsonObject toJson() {
      JsonArray array = new JsonArray();
      files.forEach(f -> array.add(new JsonObject().put("name", f.name()).put("size", f.size()).put("mode", f.mode())
          .put("offset", f.offset())));
      return new JsonObject().put("layer", layer.toString()).put("files", array);
    }

    static TarIndex of(JsonObject json) {
      List<TarFile> files = new ArrayList<>();
      for (Object o : json.getJsonArray("files")) {
        JsonObject f = (JsonObject) o;
        files.add(new TarFile(f.getString("name"), f.getLong("size"), f.getInteger("mode"), f.getLong("offset")));
      }
      return new TarIndex(Digest.parse(json.getString("layer")), files);
    }
  }

  /** A file of a tar blob (its name and mode in the tar) at {@code offset} of a layer. */
  record TarFile(String name, long size, int mode, long offset) {}

  private final MetadataStore store;

  JitRecords(MetadataStore store) {
    this.store = store;
  }

  Optional<TagAnswer> tag(String image) {
    return read("t|" + image).map(TagAnswer::of);
  }

  void putTag(String image, TagAnswer answer) {
    write("t|" + image, answer.toJson());
  }

  Optional<BuildRecord> build(Digest key) {
    return read("b|" + key.hex()).map(BuildRecord::of);
  }

  void putBuild(Digest key, BuildRecord record) {
    write("b|" + key.hex(), record.toJson());
  }

  Optional<Recipe> recipe(Digest blob) {
    return read("r|" + blob).map(Recipe::of);
  }

  void putRecipe(Digest blob, Recipe recipe) {
    write("r|" + blob, recipe.toJson());
  }

  Optional<BlobOrigin> origin(Digest blob) {
    return read("o|" + blob).map(BlobOrigin::of);
  }

  void putOrigin(Digest blob, BlobOrigin origin) {
    write("o|" + blob, origin.toJson());
  }

  Optional<Placement> placement(Digest blob) {
    return read("a|" + blob).map(Placement::of);
  }

  void putPlacement(Digest blob, Placement placement) {
    write("a|" + blob, placement.toJson());
  }

  Optional<TarIndex> tarIndex(Digest tar) {
    return read("x|" + tar).map(TarIndex::of);
  }

  void putTarIndex(Digest tar, TarIndex index) {
    write("x|" + tar, index.toJson());
  }

  /** The layer some build made of the files {@code identity} names, compressed so. */
  Optional<Composer.Layer> layer(Compression compression, String identity) {
    return read(layerKey(compression, identity)).map(JitRecords::layerOf);
  }

  void putLayer(Compression compression, String identity, Composer.Layer layer) {
    write(layerKey(compression, identity), layerJson(layer));
  }

  private static String layerKey(Compression compression, String identity) {
    return "l|" + compression + "|" + identity;
  }

  private Optional<JsonObject> read(String key) {
    return store.jit(key).map(bytes -> new JsonObject(new String(bytes, StandardCharsets.UTF_8)));
  }

  private void write(String key, JsonObject value) {
    store.putJit(key, value.encode().getBytes(StandardCharsets.UTF_8));
  }
}
