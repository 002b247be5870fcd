// AssumeRole with the AWS SDK for JavaScript v3 and with minio-js's AssumeRoleProvider, then
// PUT/GET with the temporary credentials. Prints one JSON line with what it observed.
// env: ENDPOINT, AK, SK, BUCKET
import { STSClient, AssumeRoleCommand, GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { S3Client, PutObjectCommand, GetObjectCommand } from "@aws-sdk/client-s3";
import * as Minio from "minio";
import { AssumeRoleProvider } from "minio/dist/esm/AssumeRoleProvider.mjs";

const { ENDPOINT, AK, SK, BUCKET } = process.env;
const out = {};

const sts = new STSClient({ endpoint: ENDPOINT, region: "us-east-1",
  credentials: { accessKeyId: AK, secretAccessKey: SK } });
const r = await sts.send(new AssumeRoleCommand({ RoleArn: "arn:xxx:xxx:xxx:xxxx",
  RoleSessionName: "js-sdk", DurationSeconds: 900 }));
const c = r.Credentials;
out.sdkAccessKeyId = c.AccessKeyId;
const tempCreds = { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey,
  sessionToken: c.SessionToken };
const who = await new STSClient({ endpoint: ENDPOINT, region: "us-east-1",
  credentials: tempCreds }).send(new GetCallerIdentityCommand({}));
out.sdkCallerArn = who.Arn;
const s3 = new S3Client({ endpoint: ENDPOINT, region: "us-east-1", forcePathStyle: true,
  credentials: tempCreds });
await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "js/sdk.txt", Body: "from the js sdk" }));
const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "js/sdk.txt" }));
out.sdkBody = await got.Body.transformToString();

const url = new URL(ENDPOINT);
const provider = new AssumeRoleProvider({ stsEndpoint: ENDPOINT, accessKey: AK, secretKey: SK,
  durationSeconds: 900, region: "us-east-1" });
const mc = new Minio.Client({ endPoint: url.hostname, port: Number(url.port), useSSL: false,
  credentialsProvider: provider, region: "us-east-1" });
await mc.putObject(BUCKET, "js/minio.txt", Buffer.from("from minio-js"));
const stream = await mc.getObject(BUCKET, "js/minio.txt");
const chunks = [];
for await (const ch of stream) chunks.push(ch);
out.minioBody = Buffer.concat(chunks).toString();
const creds = await provider.getCredentials();
out.minioAccessKeyId = creds.accessKey;
console.log(JSON.stringify(out));
