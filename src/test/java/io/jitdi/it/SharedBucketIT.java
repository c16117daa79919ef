package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.oci.Digest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * A central replica with a shared bucket on a real S3 server (S3Proxy, its own process), in front of a real
 * docker-registry behind a counting relay. Each test pushes its own content (its own repository and seed) and reads
 * only the evidence about it: the bucket's keys for its digests, the relay's requests for its repository.
 */
class SharedBucketIT {
  static final String BUCKET = "jitdi-it";
  static final long LAYER = 40L << 20;

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;
  static S3Proxy s3;
  static DockerRegistry upstream;
  static FaultRelay toUpstream;

  @BeforeAll
  static void start() {
    Tools.require();
    s3 = S3Proxy.start(dir.resolve("s3"));
    s3.createBucket(BUCKET);
    upstream = DockerRegistry.start(dir.resolve("upstream"));
    toUpstream = FaultRelay.to(upstream.port());
  }

  @AfterAll
  static void stop() {
    Tools.closeAll(toUpstream, upstream, s3);
  }

  static String replica(String storeEndpoint, String extra) {
    return """
        server: {listen: 127.0.0.1:PORT}
        cache:
          dir: CACHE_DIR
          maxSize: 1GiB
          manifestTtl: 5m
        %s
        upstreams:
          docker.io: {url: "%s", idleTimeout: 10s}
        defaultUpstream: docker.io
        """.formatted(S3Proxy.storeConfig(storeEndpoint, BUCKET, extra).stripTrailing(), toUpstream.url());
  }

  /** How long a replica remembers that the bucket lacks a blob (BucketTier.ABSENT_FOR). */
  static final long BUCKET_ABSENT_FOR_MILLIS = 2000;

  static String blobKey(Digest digest) {
    return "blobs/sha256/" + digest.hex();
  }

  static void awaitKey(Digest digest) {
    await("bucket object for " + digest, () -> s3.keys(BUCKET).contains(blobKey(digest)));
  }

  static void await(String what, java.util.function.BooleanSupplier condition) {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what);
      }
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }
  }

  static List<String> uploadsOf(Digest digest) {
    return s3.incompleteUploads(BUCKET).stream().filter(u -> u.startsWith(blobKey(digest) + " ")).toList();
  }

  /** Whether {@code jitdi}'s cache holds {@code digest} as a committed blob. */
  static boolean cached(Jitdi jitdi, Digest digest) {
    return Files.exists(jitdi.cacheDir().resolve("blobs/sha256/" + digest.hex().substring(0, 2) + "/" + digest.hex()));
  }

  static void skopeoCopy(Jitdi from, String image, Path into) {
    Proc.run(Duration.ofMinutes(3), List.of("skopeo", "copy", "--src-tls-verify=false",
        "docker://" + from.hostPort() + "/" + image, "oci:" + into + ":latest"));
  }

  @Test
  void aFilledImageIsInTheBucketVerifiedAndAFreshReplicaServesItWithoutTheUpstream() throws Exception {
    Images.Pushed app = Images.pushRandomImage(upstream, dir, "shared/app", "v1", LAYER, 11);
    try (Jitdi first = Jitdi.start(dir.resolve("first"), replica(s3.url(), ""))) {
      skopeoCopy(first, "shared/app:v1", dir.resolve("pulled-first"));
      awaitKey(app.layer());
      awaitKey(app.config());
    }
    assertEquals(app.layer(), Digest.sha256Of(s3.read(BUCKET, blobKey(app.layer()))),
        "the bucket's object holds exactly the verified bytes");
    assertEquals(List.of(), uploadsOf(app.layer()), "no upload is left incomplete");
    long upstreamRequests = toUpstream.requests("GET", "/v2/shared/app/") + toUpstream.requests("HEAD",
        "/v2/shared/app/");

    try (Jitdi fresh = Jitdi.start(dir.resolve("fresh"), replica(s3.url(), ""))) {
      skopeoCopy(fresh, "shared/app:v1", dir.resolve("pulled-fresh"));
      assertTrue(cached(fresh, app.layer()), "the fresh replica holds the layer");
      assertEquals(upstreamRequests, toUpstream.requests("GET", "/v2/shared/app/") + toUpstream.requests("HEAD",
          "/v2/shared/app/"), "the fresh replica answered the tag, manifest and blobs from the bucket alone");
      assertTrue(fresh.log().contains("from bucket"), "its fill came from the bucket");
    }
  }

  @Test
  void aColdMissAsksTheBucketAboutTheBlobOnce() throws Exception {
    Path file = dir.resolve("once");
    Digest digest = Images.randomFile(file, 1 << 20, 14);
    upstream.pushBlobFile("shared/once", file, digest);
    try (Jitdi replica = Jitdi.start(dir.resolve("once-replica"), replica(s3.url(), ""))) {
      double heads = replica.metrics().valueOrZero("jitdi_bucket_requests_total", "op", "head");
      assertEquals(200, Http.get(replica.url() + "/v2/shared/once/blobs/" + digest).status());
      assertEquals(heads + 1, replica.metrics().value("jitdi_bucket_requests_total", "op", "head"),
          "one HEAD of the blob's object for the whole miss (where to fetch from, then the fill's source)");
      awaitKey(digest);
    }
  }

  @Test
  void anObjectInTheBucketThatIsNotItsBlobIsReplacedFromTheUpstream() throws Exception {
    Path file = dir.resolve("rotten");
    Digest digest = Images.randomFile(file, 1 << 20, 16);
    upstream.pushBlobFile("shared/rotten", file, digest);
    byte[] rotten = Files.readAllBytes(file);
    rotten[rotten.length / 2] ^= 1;
    s3.put(BUCKET, blobKey(digest), rotten);
    try (Jitdi replica = Jitdi.start(dir.resolve("rotten-replica"), replica(s3.url(), ""))) {
      String url = replica.url() + "/v2/shared/rotten/blobs/" + digest;
      Http.Streamed fromBucket = Http.stream(url);
      assertTrue(fromBucket.broken() || fromBucket.status() >= 500,
          "the bucket's wrong bytes are never a clean answer: " + fromBucket);
      Http.Streamed fromUpstream = Http.stream(url);
      assertEquals(200, fromUpstream.status());
      assertEquals(digest, fromUpstream.digest(), "the next request is filled from the upstream");
      await("the object to be replaced by the verified blob",
          () -> digest.equals(Digest.sha256Of(s3.read(BUCKET, blobKey(digest)))));
    }
  }

  @Test
  void aBlobWhoseDigestDoesNotMatchNeverAppearsInTheBucket() throws Exception {
    Path file = dir.resolve("flipped");
    Digest digest = Images.randomFile(file, LAYER, 12);
    upstream.pushBlobFile("shared/flipped", file, digest);
    try (Jitdi replica = Jitdi.start(dir.resolve("flip"), replica(s3.url(), ""))) {
      toUpstream.flipBodyByteOfNextGet("/blobs/" + digest, 33L << 20);
      Http.Streamed got = Http.stream(replica.url() + "/v2/shared/flipped/blobs/" + digest);
      assertTrue(got.broken(), "the client's transfer is cut, not completed");
      await("the fill to fail", () -> replica.log().contains("rejected"));
      await("the upload to be aborted", () -> replica.metrics().valueOrZero("jitdi_bucket_requests_total",
          "op", "abort", "outcome", "ok") >= 1);
      assertEquals(List.of(), uploadsOf(digest), "no upload left");
      assertEquals(0, replica.metrics().valueOrZero("jitdi_bucket_requests_total", "op", "complete"),
          "no upload completed");
      assertFalse(s3.keys(BUCKET).contains(blobKey(digest)), "no object under the digest's key");

      Http.Streamed again = Http.stream(replica.url() + "/v2/shared/flipped/blobs/" + digest);
      assertEquals(digest, again.digest(), "fetched again without the fault, it is served whole");
      awaitKey(digest);
      assertEquals(digest, Digest.sha256Of(s3.read(BUCKET, blobKey(digest))));
    }
  }

  @Test
  void inRedirectModeBlobBytesComeFromTheStoreAndAreStillVerified() throws Exception {
    Images.Pushed app = Images.pushRandomImage(upstream, dir, "shared/redirect", "v1", LAYER, 13);
    try (FaultRelay toStore = FaultRelay.to(s3.port());
        Jitdi replica = Jitdi.start(dir.resolve("redirecting"), replica(toStore.url(), "      redirect: true\n"));
        FaultRelay toReplica = FaultRelay.to(replica.port())) {
      String nodeConfig = """
          server: {listen: 127.0.0.1:PORT}
          cache: {dir: CACHE_DIR, maxSize: 1GiB}
          upstreams:
            docker.io: {url: "%s"}
          defaultUpstream: docker.io
          """.formatted(toReplica.url());
      // the first node's pull fills the replica (and the bucket) from the upstream
      try (Jitdi warm = Jitdi.start(dir.resolve("node-warm"), nodeConfig)) {
        skopeoCopy(warm, "shared/redirect:v1", dir.resolve("pulled-warm"));
      }
      awaitKey(app.layer());

      String blobPath = "/v2/shared/redirect/blobs/" + app.layer();
      Http.Text answer = Http.get(replica.url() + blobPath);
      assertEquals(307, answer.status(), "a blob in the bucket is redirected");
      assertEquals("no-store", answer.header("Cache-Control"), "a presigned URL expires: the redirect is not cached");
      assertTrue(answer.header("Location").startsWith(toStore.url() + "/" + BUCKET + "/"), answer.header("Location"));

      long replicaBytes = toReplica.bytesRelayed();
      long storeBytes = toStore.bytesRelayedFor("/" + BUCKET + "/" + blobKey(app.layer()));
      try (Jitdi node = Jitdi.start(dir.resolve("node-redirected"), nodeConfig)) {
        skopeoCopy(node, "shared/redirect:v1", dir.resolve("pulled-redirected"));
        assertTrue(cached(node, app.layer()), "the node holds the layer");
      }
      long fromReplica = toReplica.bytesRelayed() - replicaBytes;
      long fromStore = toStore.bytesRelayedFor("/" + BUCKET + "/" + blobKey(app.layer())) - storeBytes;
      System.out.println("SharedBucketIT: redirect mode, node <- replica " + fromReplica + " bytes, node <- store "
          + fromStore + " bytes for a " + LAYER + "-byte layer");
      assertTrue(fromReplica < 1 << 20, "node <- replica: manifests and redirects only, " + fromReplica + " bytes");
      assertTrue(fromStore >= LAYER, "the layer came from the store: " + fromStore + " bytes");

      toStore.flipBodyByteOfNextGet(blobKey(app.layer()), 20L << 20);
      try (Jitdi node = Jitdi.start(dir.resolve("node-flipped"), nodeConfig)) {
        Http.Streamed got = Http.stream(node.url() + blobPath);
        assertTrue(got.broken(), "a flipped byte between the store and the node is rejected");
        assertFalse(cached(node, app.layer()), "and not cached");
      }

      // clients that talk to the replica directly follow the redirect
      long storeBefore = toStore.bytesRelayedFor("/" + BUCKET + "/" + blobKey(app.layer()));
      skopeoCopy(replica, "shared/redirect:v1", dir.resolve("pulled-direct"));
      assertTrue(toStore.bytesRelayedFor("/" + BUCKET + "/" + blobKey(app.layer())) - storeBefore >= LAYER,
          "skopeo followed the redirect to the store");
    }
  }

  @Test
  void wrongCredentialsOrAMissingBucketMakeTheReplicaUnreadyWithTheFix() {
    String wrong = replica(s3.url(), "").replace(S3Proxy.SECRET_KEY, "not-the-secret");
    try (Jitdi replica = Jitdi.startWithReadiness(dir.resolve("wrong-secret"), wrong, j -> answers(j))) {
      Http.Text ready = Http.get(replica.url() + "/readyz");
      assertEquals(503, ready.status());
      assertTrue(ready.body().contains("credentials"), ready.body());
      assertTrue(replica.log().contains("secretAccessKey"), "the log names the setting to fix");
      io.vertx.core.json.JsonObject bucket = new io.vertx.core.json.JsonObject(Http.get(replica.url()
          + "/_jitdi/status").body()).getJsonObject("cache").getJsonObject("bucket");
      assertTrue(bucket.getString("problem").contains("credentials"), "the status page says so: " + bucket);
    }
    String keyless = replica(s3.url(), "").replace("      accessKeyId: " + S3Proxy.ACCESS_KEY + "\n", "")
        .replace("      secretAccessKey: " + S3Proxy.SECRET_KEY + "\n", "");
    // nothing in the AWS default chain either: no keys in the environment, no instance metadata to ask
    Map<String, String> bare = Map.of("AWS_ACCESS_KEY_ID", "", "AWS_SECRET_ACCESS_KEY", "",
        "AWS_EC2_METADATA_DISABLED", "true", "AWS_SHARED_CREDENTIALS_FILE", dir.resolve("none").toString(),
        "AWS_CONFIG_FILE", dir.resolve("none").toString());
    try (Jitdi replica = Jitdi.startWithReadiness(dir.resolve("keyless"), keyless, bare, j -> answers(j))) {
      Http.Text ready = Http.get(replica.url() + "/readyz");
      assertEquals(503, ready.status(), "no credentials at all is a configuration error: " + ready.body());
      assertTrue(ready.body().contains("no credentials") && ready.body().contains("accessKeyId"), ready.body());
    }
    String missing = replica(s3.url(), "").replace("bucket: " + BUCKET, "bucket: no-such-bucket");
    try (Jitdi replica = Jitdi.startWithReadiness(dir.resolve("no-bucket"), missing, j -> answers(j))) {
      Http.Text ready = Http.get(replica.url() + "/readyz");
      assertEquals(503, ready.status());
      assertTrue(ready.body().contains("no-such-bucket does not exist"), ready.body());
    }
  }

  static boolean answers(Jitdi jitdi) {
    return Http.answers(jitdi.url() + "/healthz", 200);
  }

  @Test
  void whenTheStoreIsUnreachableTheReplicaStaysReadyServesLocalBlobsAndOthersGet503WithRetryAfter()
      throws Exception {
    Path local = dir.resolve("local-blob");
    Digest cached = Images.randomFile(local, 1 << 20, 14);
    upstream.pushBlobFile("shared/down", local, cached);
    Path other = dir.resolve("other-blob");
    Digest notCached = Images.randomFile(other, 1 << 20, 15);
    upstream.pushBlobFile("shared/down", other, notCached);
    FaultRelay toStore = FaultRelay.to(s3.port());
    try (Jitdi replica = Jitdi.start(dir.resolve("store-down"), replica(toStore.url(), ""))) {
      assertEquals(cached, Http.stream(replica.url() + "/v2/shared/down/blobs/" + cached).digest());
      toStore.close();
      Http.Streamed hit = Http.stream(replica.url() + "/v2/shared/down/blobs/" + cached);
      assertEquals(200, hit.status());
      assertEquals(cached, hit.digest(), "a blob on the local disk is still served");
      Http.Text miss = Http.get(replica.url() + "/v2/shared/down/blobs/" + notCached);
      assertEquals(503, miss.status(), miss.body());
      assertTrue(miss.header("Retry-After") != null, "with Retry-After");
      assertTrue(miss.body().contains("UNAVAILABLE"), miss.body());
      // every replica shares the store: unready, they would all leave the Service, local blobs and all
      await("a check of the store (each readiness probe starts one) to find it unreachable",
          () -> Http.get(replica.url() + "/readyz").status() > 0
              && bucketProblem(replica).contains("cannot be reached"));
      Http.Text ready = Http.get(replica.url() + "/readyz");
      assertEquals(200, ready.status(), "an unreachable store keeps the replica ready: " + ready.body());
    } finally {
      toStore.close();
    }
  }

  @Test
  void whenTheStoreBecomesUnreachableAFillUnderWayIsStillJoined() throws Exception {
    Path file = dir.resolve("joined");
    Digest digest = Images.randomFile(file, 6 << 20, 17);
    upstream.pushBlobFile("shared/joined", file, digest);
    FaultRelay toStore = FaultRelay.to(s3.port());
    FaultRelay slowUpstream = FaultRelay.to(upstream.port()).throttle(512 << 10);
    String config = replica(toStore.url(), "").replace(toUpstream.url(), slowUpstream.url());
    try (Jitdi replica = Jitdi.start(dir.resolve("joined-replica"), config)) {
      String url = replica.url() + "/v2/shared/joined/blobs/" + digest;
      java.util.concurrent.CompletableFuture<Http.Streamed> first =
          java.util.concurrent.CompletableFuture.supplyAsync(() -> Http.stream(url));
      await("the fill to be under way", () -> slowUpstream.bytesRelayedFor("/v2/shared/joined/blobs/") > 0);
      toStore.close();
      // past the moment a bucket's "not there" answer is remembered, so the next request must ask the store again
      Thread.sleep(BUCKET_ABSENT_FOR_MILLIS + 1000);
      Http.Streamed joined = Http.stream(url);
      assertEquals(200, joined.status(), "a fill under way needs no bucket to be joined");
      assertEquals(digest, joined.digest());
      assertEquals(digest, first.get(60, java.util.concurrent.TimeUnit.SECONDS).digest());
    } finally {
      Tools.closeAll(slowUpstream, toStore);
    }
  }

  @Test
  void aStoreThatHangsNeitherStallsTheStartNorMakesTheReplicaUnready() throws Exception {
    // a store that takes connections (the kernel's backlog does) and never answers
    try (java.net.ServerSocket hangs = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
        Jitdi replica = Jitdi.start(dir.resolve("store-hangs"), replica("http://127.0.0.1:" + hangs.getLocalPort(),
            ""))) {
      assertEquals(200, Http.get(replica.url() + "/readyz").status());
      await("the status page to name the store's problem", () -> bucketProblem(replica).contains("cannot be reached"));
    }
  }

  /** The shared bucket's problem as the replica's status page gives it ("" when there is none). */
  static String bucketProblem(Jitdi replica) {
    io.vertx.core.json.JsonObject bucket = new io.vertx.core.json.JsonObject(Http.get(replica.url()
        + "/_jitdi/status").body()).getJsonObject("cache").getJsonObject("bucket");
    String problem = bucket.getString("problem");
    return problem == null ? "" : problem;
  }

  @Test
  void aReplicaKilledMidUploadLeavesNoIncompleteUploadAfterItsRestart() throws Exception {
    Path file = dir.resolve("killed-blob");
    Digest digest = Images.randomFile(file, 96L << 20, 16);
    upstream.pushBlobFile("shared/killed", file, digest);
    try (FaultRelay slow = FaultRelay.to(upstream.port()).throttle(8L << 20);
        Jitdi replica = Jitdi.start(dir.resolve("killed"), replica(s3.url(), "").replace(toUpstream.url(),
            slow.url()))) {
      Thread client = new Thread(() -> Http.stream(replica.url() + "/v2/shared/killed/blobs/" + digest));
      client.start();
      await("an upload under way", () -> !uploadsOf(digest).isEmpty());
      replica.kill9();
      client.join(30_000);
      assertFalse(s3.keys(BUCKET).contains(blobKey(digest)), "nothing under the key of an unverified blob");
      assertFalse(uploadsOf(digest).isEmpty(), "the crash left its upload");
      replica.startAgain();
      await("the restart to abort it", () -> uploadsOf(digest).isEmpty());
      assertFalse(s3.keys(BUCKET).contains(blobKey(digest)));
    }
  }

  /**
   * A replica killed after the store created its upload but before it wrote down the upload's id: the "starting"
   * record it wrote first still names the blob, so its restart aborts that upload, and only that one.
   */
  @Test
  void anUploadWhoseIdWasNeverRecordedIsAbortedAtTheRestartByItsKey() throws Exception {
    Digest mine = Images.randomFile(dir.resolve("starting-mine"), 1 << 10, 18);
    Digest others = Images.randomFile(dir.resolve("starting-others"), 1 << 10, 19);
    try (Jitdi replica = Jitdi.start(dir.resolve("starting"), replica(s3.url(), ""))) {
      replica.kill9();
      // the state a kill -9 leaves between the store's answer and the record of the id
      Path cache = replica.cacheDir();
      try (io.jitdi.cache.MetadataStore index = io.jitdi.cache.MetadataStore.open(cache.resolve("index"),
          cache.resolve("runtime"))) {
        index.putUpload("starting|" + mine, mine.toString());
      }
      s3.startUpload(BUCKET, blobKey(mine));
      s3.startUpload(BUCKET, blobKey(others)); // another replica's, under way
      assertEquals(1, uploadsOf(mine).size());
      replica.startAgain();
      await("the restart to abort the upload it was starting", () -> uploadsOf(mine).isEmpty());
      assertEquals(1, uploadsOf(others).size(), "another replica's upload is left alone");
    }
  }

  @Test
  void containerdAndPodmanFollowARedirectingReplicaToTheStore() throws Exception {
    Images.pushBusybox(upstream, "shared/bb", "1.0");
    io.vertx.core.json.JsonObject manifest = new io.vertx.core.json.JsonObject(Http.get(upstream.url()
        + "/v2/shared/bb/manifests/1.0", Map.of("Accept", "application/vnd.oci.image.manifest.v1+json")).body());
    List<Digest> blobs = new java.util.ArrayList<>(List.of(Digest.parse(manifest.getJsonObject("config")
        .getString("digest"))));
    manifest.getJsonArray("layers").forEach(l -> blobs.add(Digest.parse(((io.vertx.core.json.JsonObject) l)
        .getString("digest"))));
    Digest layer = blobs.get(1);
    String layerPath = "/" + BUCKET + "/" + blobKey(layer);
    try (FaultRelay toStore = FaultRelay.to(s3.port());
        Jitdi replica = Jitdi.start(dir.resolve("redirecting-to-clients"),
            replica(toStore.url(), "      redirect: true\n"))) {
      // the first pull fills the replica and the bucket; only then are there redirects to give
      skopeoCopy(replica, "shared/bb:1.0", dir.resolve("pulled-bb"));
      blobs.forEach(SharedBucketIT::awaitKey);

      long before = toStore.bytesRelayedFor(layerPath);
      try (Containerd containerd = Containerd.start(dir.resolve("containerd-redirect"))) {
        containerd.mirror("docker.io", replica.url(), Ports.deadEnd());
        containerd.pull("docker.io/shared/bb:1.0");
      }
      long afterContainerd = toStore.bytesRelayedFor(layerPath);
      assertTrue(afterContainerd > before, "containerd fetched the layer from the store");

      Proc.Result pulled = Podman.mirroring(dir.resolve("podman-redirect"), replica.hostPort())
          .run("pull", "docker.io/shared/bb:1.0");
      assertEquals(0, pulled.exit(), pulled.output());
      assertTrue(toStore.bytesRelayedFor(layerPath) > afterContainerd, "podman fetched the layer from the store");
    }
  }
}
