#!/usr/bin/env bash
# Prints `export` lines for credentials of a role in ACCOUNT, obtained from the
# STS endpoint that AWS_ENDPOINT_URL names (moto: it then treats every request
# with these credentials as ACCOUNT's). For trying a county deploy locally:
#   eval "$(scripts/assume-role.sh 111111111111 us-east-2)"
set -euo pipefail
account=${1:?usage: scripts/assume-role.sh ACCOUNT [REGION]}
region=${2:-${AWS_REGION:-us-east-1}}
[[ $account =~ ^[0-9]{12}$ ]] || { echo "assume-role: ACCOUNT must be 12 digits, got '$account'" >&2; exit 2; }
: "${AWS_ENDPOINT_URL:?assume-role: AWS_ENDPOINT_URL is not set (run under scripts/with-moto.sh)}"
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$("$root/scripts/py-tools.sh")
"$bin/python" - "$account" "$region" <<'PY'
import os, sys, boto3
account, region = sys.argv[1], sys.argv[2]
sts = boto3.client("sts", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=region)
c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/acme-deploy",
                    RoleSessionName="local")["Credentials"]
print(f"export AWS_ACCESS_KEY_ID={c['AccessKeyId']} AWS_SECRET_ACCESS_KEY={c['SecretAccessKey']} "
      f"AWS_SESSION_TOKEN={c['SessionToken']} AWS_REGION={region} AWS_DEFAULT_REGION={region}")
PY
