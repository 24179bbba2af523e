import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Validations } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import type { ReviewerPageOptions } from '../reviewer-page';
import { packageRoot } from './handler-code';

/**
 * The reviewer page's files (the package's `reviewer-page/`), named as the proxy reads them next
 * to config.json: `review-<file>` (lambda/handlers/review-page.ts, `shippedReviewFileName`).
 */
export const REVIEW_PAGE_FILES = ['index.html', 'app.js', 'style.css', 'icon.svg'] as const;

export function reviewerPageFiles(): Record<string, string> {
  const dir = join(packageRoot(), 'reviewer-page');
  return Object.fromEntries(REVIEW_PAGE_FILES.map((f) => [`review-${f}`, readFileSync(join(dir, f), 'utf8')]));
}

/** The configuration document's `reviewerPage` section. */
export function reviewerPageSection(o: ReviewerPageOptions): Record<string, unknown> {
  return {
    issuerId: o.issuerId,
    clientId: o.clientId,
    scopes: o.scopes ?? [],
    ...(o.authorizationEndpoint ? { authorizationEndpoint: o.authorizationEndpoint } : {}),
    ...(o.tokenEndpoint ? { tokenEndpoint: o.tokenEndpoint } : {}),
  };
}

/**
 * `GET /review` and `GET /review/{file}` without an authorizer: static files (the page signs the
 * reviewer in itself; its API calls go to the authorized approval routes).
 */
export function addReviewerPageRoutes(api: apigwv2.HttpApi, integration: apigwv2.HttpRouteIntegration): void {
  const routes = [
    ...api.addRoutes({ path: '/review', methods: [apigwv2.HttpMethod.GET], integration }),
    ...api.addRoutes({ path: '/review/{file}', methods: [apigwv2.HttpMethod.GET], integration }),
  ];
  for (const route of routes) {
    Validations.of(route).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'The reviewer page and its static files (HTML, CSS, a script, an icon, the sign-in settings): the same for everyone, no data, no record; the page signs reviewers in and calls the JWT-authorized approval routes.',
    });
  }
}
