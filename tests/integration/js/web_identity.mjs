// AssumeRoleWithWebIdentity with the AWS SDK for JavaScript v3 (unsigned, as the SDK sends it),
// then GET with the temporary credentials. Prints one JSON line.
// env: ENDPOINT, TOKEN, ROLE_ARN, BUCKET, KEY
import { STSClient, AssumeRoleWithWebIdentityCommand } from "@aws-sdk/client-sts";
import { S3Client, GetObjectCommand } from "@aws-sdk/client-s3";

const { ENDPOINT, TOKEN, ROLE_ARN, BUCKET, KEY } = process.env;
const sts = new STSClient({ endpoint: ENDPOINT, region: "us-east-1" });
const r = await sts.send(new AssumeRoleWithWebIdentityCommand({ RoleArn: ROLE_ARN,
  RoleSessionName: "js-web", WebIdentityToken: TOKEN, DurationSeconds: 900 }));
const c = r.Credentials;
const s3 = new S3Client({ endpoint: ENDPOINT, region: "us-east-1", forcePathStyle: true,
  credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey,
                 sessionToken: c.SessionToken } });
const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: KEY }));
console.log(JSON.stringify({ subject: r.SubjectFromWebIdentityToken, provider: r.Provider,
  body: await got.Body.transformToString(), expiration: c.Expiration }));
