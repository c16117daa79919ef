package io.jitdi.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * A real S3 server: S3Proxy (from Maven Central, copied to {@code target/tools/s3proxy.jar} by the build) as its own
 * process on a free loopback port, with a filesystem backend and SigV4 auth. An SDK client of its own creates buckets
 * and lists what is stored.
 */
public final class S3Proxy implements AutoCloseable {
  public static final String ACCESS_KEY = "AKIAJITDITEST";
  public static final String SECRET_KEY = "jitdi-test-secret";
  static final Path JAR = Path.of("target/tools/s3proxy.jar").toAbsolutePath();

  private final Proc proc;
  private final int port;
  private final S3Client admin;

  private S3Proxy(Proc proc, int port) {
    this.proc = proc;
    this.port = port;
    this.admin = S3Client.builder().region(Region.US_EAST_1).endpointOverride(URI.create(url()))
        .forcePathStyle(true)
        .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(ACCESS_KEY, SECRET_KEY)))
        .httpClient(UrlConnectionHttpClient.create())
        .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
        .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED).build();
  }

  /** Starts S3Proxy storing under {@code dir}. */
  public static S3Proxy start(Path dir) {
    if (!Files.isRegularFile(JAR)) {
      throw new IllegalStateException("S3Proxy is missing at " + JAR + "; run the tests through Maven (mvn verify), "
          + "or fetch it with: mvn dependency:copy -Dartifact=org.gaul:s3proxy:2.6.0:jar:jar-with-dependencies "
          + "-DoutputDirectory=target/tools && mv target/tools/s3proxy-2.6.0-jar-with-dependencies.jar "
          + "target/tools/s3proxy.jar");
    }
    return Ports.withFreePort(port -> start(dir, port));
  }

  private static S3Proxy start(Path dir, int port) {
    Path conf = dir.resolve("s3proxy-" + port + ".conf");
    try {
      Files.createDirectories(dir.resolve("data"));
      Files.writeString(conf, String.join("\n",
          "s3proxy.endpoint=http://127.0.0.1:" + port,
          "s3proxy.authorization=aws-v2-or-v4",
          "s3proxy.identity=" + ACCESS_KEY,
          "s3proxy.credential=" + SECRET_KEY,
          "jclouds.provider=filesystem",
          "jclouds.filesystem.basedir=" + dir.resolve("data"), ""));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Proc proc = Proc.start("s3proxy", dir.resolve("s3proxy-" + port + ".log"), Map.of(),
        List.of(ProcessHandle.current().info().command().orElse("java"), "-Xmx256m", "-jar", JAR.toString(),
            "--properties", conf.toString()));
    S3Proxy s3 = new S3Proxy(proc, port);
    try {
      proc.await("S3Proxy to answer", Duration.ofSeconds(60), () -> Http.answers(s3.url() + "/", 403));
    } catch (RuntimeException | AssertionError e) {
      s3.close();
      throw e;
    }
    return s3;
  }

  public String url() {
    return "http://127.0.0.1:" + port;
  }

  public int port() {
    return port;
  }

  public Proc proc() {
    return proc;
  }

  public void createBucket(String bucket) {
    admin.createBucket(b -> b.bucket(bucket));
  }

  /**
   * Every object key in {@code bucket}. Left out: multipart uploads in progress, and the directory markers
   * ({@code blobs/}) the filesystem backend lists once an upload under that directory was aborted.
   */
  public List<String> keys(String bucket) {
    return admin.listObjectsV2Paginator(b -> b.bucket(bucket)).contents().stream().map(S3Object::key)
        .filter(k -> !k.startsWith(".mpus-") && !k.endsWith("/")).toList();
  }

  /** The multipart uploads of {@code bucket} that were neither completed nor aborted. */
  public List<String> incompleteUploads(String bucket) {
    return admin.listMultipartUploadsPaginator(b -> b.bucket(bucket)).uploads().stream()
        .map(u -> u.key() + " " + u.uploadId()).toList();
  }

  /** Starts a multipart upload of {@code key} and leaves it incomplete, as a process killed mid-upload would. */
  public String startUpload(String bucket, String key) {
    return admin.createMultipartUpload(b -> b.bucket(bucket).key(key)).uploadId();
  }

  /** Writes {@code content} under {@code key}, as another tool (or bit rot) could. */
  public void put(String bucket, String key, byte[] content) {
    admin.putObject(b -> b.bucket(bucket).key(key), software.amazon.awssdk.core.sync.RequestBody.fromBytes(content));
  }

  /** The bytes of an object. */
  public byte[] read(String bucket, String key) {
    return admin.getObjectAsBytes(b -> b.bucket(bucket).key(key)).asByteArray();
  }

  /** The cache config block for {@code bucket} at {@code endpoint} (this server, or a relay in front of it). */
  public static String storeConfig(String endpoint, String bucket, String extra) {
    return "  store:\n    s3:\n      endpoint: " + endpoint + "\n      region: us-east-1\n      bucket: " + bucket
        + "\n      pathStyle: true\n      accessKeyId: " + ACCESS_KEY + "\n      secretAccessKey: " + SECRET_KEY
        + "\n" + extra;
  }

  @Override
  public void close() {
    admin.close();
    proc.close();
  }
}
