/** Imported first by the authorizer test: configure as deployed (key in Secrets Manager), before config loads. */
export const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:token-key-AbCdEf';
delete process.env.TOKEN_SECRET;
process.env.TOKEN_SECRET_ARN = SECRET_ARN;
