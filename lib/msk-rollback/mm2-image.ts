/**
 * The MirrorMaker 2 image: directory, pinned component versions and checksums, build arguments.
 */
import { join } from 'node:path';

/** Directory of the Dockerfile (a CDK asset, built at deploy time). */
export const MM2_IMAGE_DIR = join(import.meta.dirname, 'mm2-image');

/** Versions of the components besides Kafka (which the config chooses). */
export const MM2_COMPONENTS = {
  scala: '2.13',
  /** aws-msk-iam-auth, the `-all` jar from Maven Central. */
  mskIamAuth: '2.2.0',
  /** Prometheus JMX exporter Java agent. */
  jmxExporter: '1.0.1',
} as const;

/**
 * SHA-512 of `kafka_2.13-<version>.tgz` as published by Apache, for the releases this image pins
 * (values as listed in Strimzi's kafka-versions.yaml). A version not listed is verified at build time
 * against the `.sha512` Apache publishes next to the tarball.
 */
export const KAFKA_SHA512: Readonly<Record<string, string>> = {
  '3.7.0':
    'B8679283A2D8DAB86E7C636B2C688FE9D9E64AC437241F65EF7A1733F4D26A2BD415EEFA04F09F1911373BCD2A5DBC3838C76347F68656425C09202CD290CE91',
  '3.7.1':
    '78E985235D245BA9E2951A82E723A62B8ABA8B74A2C8376F7271906AF715A36DE9142C446096F13FD4BFF3A4C10F1D080EB924E91E2256EC2DB779906FD6737D',
  '3.8.0':
    '0A33B7BE7B6FA53249BA80F9D02CDA71ED81927C160AA6EE9BE1E3D3C1C4B50466FFC905293143FD88CEAC7F5E7D8F5BEC28EF972ADDD3C459CC8B1291E738AA',
  '3.8.1':
    'B43FADA353B7DCA51C0F90ACF594EC1CE06B2344C046D4059D4DEAB0615E0E3E76E92ECCDBDFA1ADAD1FBDE76C5F25E71ACD0DB013FB4B1778827448B5285EDF',
  '3.9.0':
    '5324C1F44D4C84EA469712C2CC3D2D15545C3716EDBB5353722DF9C661FCC78B031FCF07D1C4F0309C5FDB32686665DFB0CFFE55210CD3A1FE2A370538CB4E6D',
  '3.9.1':
    '1EA204BA73411737A275429CA976D440F007FF0957B90B19BE41DC5A4BAE52617267769BE9F0B5791714D0B3C4C760605BD426FAEA39EDD90763585523FA2CFE',
};

/** SHA-256 of the two jars when pinned; empty means verified against Maven Central's published SHA-1. */
export const JAR_SHA256 = { mskIamAuth: '', jmxExporter: '' } as const;

/**
 * Docker build arguments for a Kafka version.
 * @param kafkaVersion e.g. `3.7.2`
 * @throws for a version older than 3.7 (MM2 features this workflow relies on, and the `source=` metric tag)
 */
export function mm2BuildArgs(kafkaVersion: string): Record<string, string> {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(kafkaVersion);
  if (!m) throw new Error(`kafka version "${kafkaVersion}" is not MAJOR.MINOR.PATCH`);
  const [major, minor] = [Number(m[1]), Number(m[2])];
  if (major < 3 || (major === 3 && minor < 7)) {
    throw new Error(
      `kafka version "${kafkaVersion}" is older than 3.7, the oldest release the MM2 image supports`,
    );
  }
  return {
    KAFKA_VERSION: kafkaVersion,
    SCALA_VERSION: MM2_COMPONENTS.scala,
    KAFKA_SHA512: KAFKA_SHA512[kafkaVersion] ?? '',
    MSK_IAM_AUTH_VERSION: MM2_COMPONENTS.mskIamAuth,
    MSK_IAM_AUTH_SHA256: JAR_SHA256.mskIamAuth,
    JMX_EXPORTER_VERSION: MM2_COMPONENTS.jmxExporter,
    JMX_EXPORTER_SHA256: JAR_SHA256.jmxExporter,
  };
}
