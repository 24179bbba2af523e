#!/usr/bin/env node
/**
 * Example app: a realistic gateway, the `cdk.json` app of this repository.
 *
 *   npx cdk synth -c stage=dev     (or stage=prod)
 *
 * Two issuers (the company's Okta for batch jobs and services, GitHub Actions for CI pipelines),
 * three models (Titan v2 on Bedrock, OpenAI, a self-hosted TEI server inside the VPC) and rules
 * that give each team what it needs and nothing else.
 */
import { App } from 'aws-cdk-lib';
import { exampleStack } from './example';

const app = new App();
const stage = (app.node.tryGetContext('stage') as string | undefined) ?? 'dev';
if (stage !== 'dev' && stage !== 'prod') throw new Error(`-c stage must be "dev" or "prod", got ${JSON.stringify(stage)}`);
exampleStack(app, stage);
app.synth();
